using OpenHvx.Contracts;
using OpenIddict.Abstractions;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Creates or updates, at each start, the public clients of OpenHvx's own tools (<see cref="FirstPartyClients"/>): no secret,
/// PKCE (S256) required for the authorization code. Runs once the gateway listens, because the console's redirect URI is
/// relative to the issuer, which may be the bound address (<see cref="TokenIssuer"/>).
/// </summary>
internal sealed class FirstPartyClientSetup(IServiceScopeFactory scopes, TokenIssuer issuer, ILogger<FirstPartyClientSetup> logger) : IHostedLifecycleService
{
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        foreach (var descriptor in Descriptors(issuer.Current!))
        {
            try
            {
                if (await applications.FindByClientIdAsync(descriptor.ClientId!, cancellationToken) is { } existing)
                {
                    // A service client an admin made with this name before the name was reserved: it is not taken over (a service may use
                    // it), and the tool's client is not set up until an admin removes it.
                    if (await applications.GetClientTypeAsync(existing, cancellationToken) != Oidc.ClientTypes.Public)
                    {
                        logger.LogError("A service client named {Client} exists, so OpenHvx's own public client of that name is not set up: remove the service "
                            + "client (DELETE /api/v1/admin/clients/{Client}) and restart the gateway", descriptor.ClientId, descriptor.ClientId);
                        continue;
                    }
                    await applications.UpdateAsync(existing, descriptor, cancellationToken);
                }
                else
                    await applications.CreateAsync(descriptor, cancellationToken);
            }
            catch (OpenIddictExceptions.ConcurrencyException)
            {
                logger.LogDebug("Client {Client} was written by another gateway on the same store", descriptor.ClientId);
            }
        }
    }

    private static IEnumerable<OpenIddictApplicationDescriptor> Descriptors(Uri issuer)
    {
        string[] common =
        [
            Oidc.Permissions.Endpoints.Token, Oidc.Permissions.Endpoints.Authorization, Oidc.Permissions.Endpoints.Revocation,
            Oidc.Permissions.GrantTypes.AuthorizationCode, Oidc.Permissions.GrantTypes.RefreshToken, Oidc.Permissions.ResponseTypes.Code,
            .. Scopes.All.Select(s => Oidc.Permissions.Prefixes.Scope + s),
        ];
        // Native: a registered loopback redirect URI without a port accepts any port (RFC 8252, 7.3).
        yield return PublicClient(FirstPartyClients.Cli, "OpenHvx CLI", Oidc.ApplicationTypes.Native, FirstPartyClients.CliRedirectUris.Select(u => new Uri(u)),
            [.. common, Oidc.Permissions.Endpoints.DeviceAuthorization, Oidc.Permissions.GrantTypes.DeviceCode, Oidc.Permissions.GrantTypes.Password]);
        yield return PublicClient(FirstPartyClients.Console, "OpenHvx console", Oidc.ApplicationTypes.Web, [new Uri(issuer, FirstPartyClients.ConsoleCallbackPath)], common);
    }

    private static OpenIddictApplicationDescriptor PublicClient(string clientId, string displayName, string applicationType, IEnumerable<Uri> redirectUris,
        IEnumerable<string> permissions)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = Oidc.ClientTypes.Public,
            ApplicationType = applicationType,
            DisplayName = displayName,
            Requirements = { Oidc.Requirements.Features.ProofKeyForCodeExchange },
        };
        descriptor.Permissions.UnionWith(permissions);
        descriptor.RedirectUris.UnionWith(redirectUris);
        return descriptor;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
