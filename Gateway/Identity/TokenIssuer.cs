using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The <c>iss</c> of every token and of the discovery document: <see cref="GatewayOptions.Issuer"/> when set (production: the
/// public URL), else the address the gateway is bound to, known once it listens (DevHost, a gateway run by hand). Always ends
/// with '/', so that it equals what a standard client makes of the URL it discovered (oauth4webapi compares <c>new URL(u).href</c>).
/// </summary>
public sealed class TokenIssuer(IOptions<GatewayOptions> options, IServer server, IOptionsMonitor<OpenIddictServerOptions> openIddict, ILogger<TokenIssuer> logger)
    : IHostedLifecycleService
{
    private volatile Uri? _current = Parse(options.Value.Issuer);

    /// <summary>Null only between the start of the listener and the moment its address is read.</summary>
    public Uri? Current => _current;

    /// <summary>The API a token is for, as an RFC 8707 resource indicator: <c>&lt;issuer&gt;api/v1/admin</c> or <c>.../tenant</c>.</summary>
    public string? ResourceOf(string audience) => _current is { } issuer ? new Uri(issuer, "api/v1/" + audience).AbsoluteUri : null;

    /// <summary>An absolute http(s) URL without query or fragment, with a trailing '/'; null when <paramref name="value"/> is empty.</summary>
    public static Uri? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
            return null;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            throw new InvalidOperationException($"Gateway:Issuer (OPENHVX_ISSUER) must be an absolute http(s) URL without query or fragment, not '{value}'.");
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (_current is null)
        {
            var bound = BoundAddress.Of(server);
            _current = new Uri(bound + "/");
            logger.LogInformation("Gateway:Issuer (OPENHVX_ISSUER) is not set: tokens name the address the gateway listens on, {Issuer}; set the public URL in production", _current);
        }
        // OpenIddict reads its options at each request; the value configured at build time (none, without Gateway:Issuer) is replaced here.
        openIddict.CurrentValue.Issuer = _current;
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
