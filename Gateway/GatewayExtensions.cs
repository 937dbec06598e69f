using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Docs;
using OpenHvx.Gateway.Federation;
using OpenHvx.Gateway.Identity;
using OpenHvx.Gateway.Proxy;
using OpenHvx.Gateway.WebConsole;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway;

public static class GatewayExtensions
{
    /// <summary>Gateway settings: section <c>Gateway</c>, overridden by the OPENHVX_* variables.</summary>
    public static GatewayOptions ReadGatewayOptions(this IConfiguration configuration)
    {
        var options = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        ApplyEnvironment(options, configuration);
        return options;
    }

    private static void ApplyEnvironment(GatewayOptions options, IConfiguration configuration)
    {
        if (configuration["OPENHVX_ORCHESTRATOR_URL"] is { Length: > 0 } upstream)
            options.OrchestratorUrl = upstream;
        if (configuration["OPENHVX_ISSUER"] is { Length: > 0 } issuer)
            options.Issuer = issuer;
        if (configuration["OPENHVX_ADMIN_PASSWORD"] is { Length: > 0 } password)
            options.AdminPassword = password;
        if (configuration["OPENHVX_GATEWAY_DB"] is { Length: > 0 } database)
            options.Database = database;
    }

    /// <summary>Token service (OpenIddict), token validation, rate limits, identity store and the proxy to the orchestrator.</summary>
    public static IServiceCollection AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.ReadGatewayOptions();
        // A malformed orchestrator list stops the start here, naming the item, rather than at the first request.
        OrchestratorAddresses.Parse(settings.OrchestratorUrl);
        var issuer = TokenIssuer.Parse(settings.Issuer);
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.Section)).PostConfigure(o => ApplyEnvironment(o, configuration));
        services.AddSingleton(TimeProvider.System);
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);

        PrivateFiles.EnsureFolder(settings.KeyRingDirectory);
        var dataProtection = services.AddDataProtection().SetApplicationName("openhvx-gateway").PersistKeysToFileSystem(new DirectoryInfo(settings.KeyRingDirectory));
        if (settings.KeyRingCertificate is { Length: > 0 } certificate)
            dataProtection.ProtectKeysWithCertificate(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(certificate, settings.KeyRingCertificatePassword));
        services.AddDbContext<GatewayDbContext>(db =>
        {
            db.UseSqlite($"Data Source={settings.Database}");
            db.UseOpenIddict();
        });
        services.AddSingleton<IdentityKeys>();
        services.AddHostedService<SigningKeyRefresh>();
        services.AddSingleton<UserPasswords>();
        services.AddSingleton<HostAudiences>();
        services.AddSingleton<IConfigureOptions<OpenIddict.Server.OpenIddictServerOptions>, OpenIddictKeysSetup>();
        services.AddHostedService<AdminBootstrap>();
        services.AddSingleton<TokenIssuer>();
        services.AddHostedService(sp => sp.GetRequiredService<TokenIssuer>());
        services.AddHostedService<FirstPartyClientSetup>();
        services.AddSingleton<TokenAudience>();
        services.AddSingleton<OAuthEndpointLimit>();
        services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "openhvx-antiforgery";
            antiforgery.Cookie.Path = "/connect";
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
        });
        services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<GatewayDbContext>())
            .AddServer(server =>
            {
                // Without Gateway:Issuer, TokenIssuer sets the bound address once the gateway listens.
                if (issuer is not null)
                    server.SetIssuer(issuer);
                server.SetTokenEndpointUris(TokenServicePaths.Token.TrimStart('/'))
                    .SetConfigurationEndpointUris(TokenServicePaths.Discovery.TrimStart('/'))
                    .SetJsonWebKeySetEndpointUris(TokenServicePaths.Jwks.TrimStart('/'))
                    .SetAuthorizationEndpointUris(TokenServicePaths.Authorize.TrimStart('/'))
                    .SetDeviceAuthorizationEndpointUris(TokenServicePaths.DeviceAuthorization.TrimStart('/'))
                    .SetEndUserVerificationEndpointUris(TokenServicePaths.Verify.TrimStart('/'))
                    .SetRevocationEndpointUris(TokenServicePaths.Revoke.TrimStart('/'))
                    .SetIntrospectionEndpointUris(TokenServicePaths.Introspect.TrimStart('/'));
                server.AllowPasswordFlow().AllowClientCredentialsFlow().AllowRefreshTokenFlow()
                    .AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange().AllowDeviceAuthorizationFlow();
                // PKCE with S256 only: `plain` would show the verifier to whoever sees the authorization request.
                server.Configure(o =>
                {
                    o.CodeChallengeMethods.Clear();
                    o.CodeChallengeMethods.Add(Oidc.CodeChallengeMethods.Sha256);
                });
                // The password grant without client_id (api.md's curl lines) stays: such tokens carry no client_id claim.
                server.AcceptAnonymousClients();
                server.RegisterScopes([.. Scopes.All, Oidc.Scopes.OfflineAccess]);
                server.RegisterAudiences(Audiences.Admin, Audiences.Tenant);
                server.DisableAccessTokenEncryption();
                server.SetRefreshTokenLifetime(settings.RefreshTokenLifetime);
                // A refresh token works once: the answer carries its successor, and the old one is refused at once.
                server.SetRefreshTokenReuseLeeway(TimeSpan.Zero);
                server.UseAspNetCore().EnableTokenEndpointPassthrough().EnableAuthorizationEndpointPassthrough()
                    .EnableEndUserVerificationEndpointPassthrough().DisableTransportSecurityRequirement();
                // api.md's form field `audience` and RFC 8707's `resource` pick the audience (TokenAudience); OpenIddict reserves both
                // names (token exchange, its own resource list), so they are moved aside before OpenIddict validates the request.
                server.AddEventHandler(TokenAudience.MoveAsideHandler<OpenIddict.Server.OpenIddictServerEvents.ExtractTokenRequestContext>())
                    .AddEventHandler(TokenAudience.MoveAsideHandler<OpenIddict.Server.OpenIddictServerEvents.ExtractAuthorizationRequestContext>());
                server.AddEventHandler(TokenRevocation.Descriptor);
                server.AddEventHandler(IntrospectionClients.Descriptor);
                server.AddEventHandler(IntrospectedTokens.Descriptor);
                server.AddEventHandler(OAuthEndpointLimit.Descriptor);
            });

        services.AddGatewayAuthentication(settings, configuration);
        services.AddWebConsole(settings);
        services.AddGatewayRateLimits();
        services.AddSingleton<SignInGuard>();
        services.AddSingleton<RevocationList>();
        services.AddHostedService(sp => sp.GetRequiredService<RevocationList>());
        services.AddScoped<AccessRevocation>();
        services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            // The scheme too: behind a proxy that ends TLS, the console's cookies and redirects must know the browser used https.
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in settings.TrustedProxies)
            {
                if (System.Net.IPNetwork.TryParse(proxy, out var network))
                    forwarded.KnownIPNetworks.Add(network);
                else if (System.Net.IPAddress.TryParse(proxy, out var address))
                    forwarded.KnownProxies.Add(address);
                else
                    throw new InvalidOperationException($"Gateway:TrustedProxies: '{proxy}' is neither an address nor a network.");
            }
        });

        services.AddSingleton<OrchestratorUpstream>();
        services.AddSingleton<OrchestratorClient>();
        services.AddHttpClient(OrchestratorClient.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        services.AddReverseProxy().AddTransforms(transforms =>
        {
            transforms.AddResponseTransform(AbsoluteLocation.ApplyAsync);
            // The console's session cookie is a credential for the gateway only; the orchestrator takes the bearer token it became.
            transforms.AddRequestHeaderRemove(Microsoft.Net.Http.Headers.HeaderNames.Cookie);
            transforms.AddRequestHeaderRemove(ConsolePaths.RequestHeader);
        });
        services.AddSingleton(sp => sp.GetRequiredService<OrchestratorUpstream>().ConfigProvider);

        services.AddApiReference();
        services.AddHealthChecks()
            .AddCheck<IdentityStoreHealthCheck>("identity-store", tags: [ServiceDefaultsExtensions.ReadyTag])
            .AddCheck<OrchestratorHealthCheck>("orchestrator", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return services;
    }

    /// <summary>The gateway's middleware and endpoints; <paramref name="profile"/> decides where <c>/metrics</c> is served (never on the public port).</summary>
    public static WebApplication UseGateway(this WebApplication app, OpenHvx.ServiceDefaults.ServiceProfile profile)
    {
        app.UseServiceDefaults(profile);
        // Only with proxies named: with none, ASP.NET Core would believe X-Forwarded-For from anyone.
        if (app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.TrustedProxies.Count > 0)
            app.UseForwardedHeaders();
        app.UseMiddleware<RequestHygiene>();
        app.UseWebConsole();
        app.UseAuthentication();
        app.UseMiddleware<ApiGuard>();
        app.UseRateLimiter();
        app.UseMiddleware<TenantFairness>();
        app.UseAuthorization();

        app.MapTokenEndpoint();
        app.MapSignInEndpoints();
        app.MapGet(TokenServicePaths.Revocations, (RevocationList revocations, HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "no-store";
            return Results.Ok(revocations.Feed);
        }).ExcludeFromDescription();
        app.MapUserEndpoints();
        app.MapSigningKeyEndpoints();
        app.MapApiReference();
        app.MapWebConsole();
        app.MapDefaultEndpoints(profile);
        app.MapReverseProxy(proxy =>
        {
            proxy.Use(async (http, next) =>
            {
                await next();
                if (http.GetForwarderErrorFeature() is { } failure && !http.Response.HasStarted)
                    await ForwarderFailures.WriteAsync(http, failure);
            });
            proxy.UseMiddleware<OrchestratorRetry>();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        }).RequireRateLimiting(GatewayRateLimits.ApiPolicy);
        return app;
    }
}

internal sealed class IdentityStoreHealthCheck(IServiceScopeFactory scopes) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var scope = scopes.CreateScope();
            await scope.ServiceProvider.GetRequiredService<GatewayDbContext>().Users.AnyAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The identity store is not reachable", ex);
        }
    }
}

/// <summary>Ready while one orchestrator at least is ready (Degraded when some are not: the others take their requests).</summary>
internal sealed class OrchestratorHealthCheck(OrchestratorClient orchestrator) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var orchestrators = await orchestrator.ReadinessAsync(cancellationToken);
        var down = orchestrators.Where(o => !o.Ready).Select(o => o.Address.ToString()).ToList();
        if (orchestrators.Count == 0 || down.Count == orchestrators.Count)
            return HealthCheckResult.Unhealthy(orchestrators.Count == 0 ? "No orchestrator is configured" : "No orchestrator is ready: " + string.Join(", ", down));
        return down.Count == 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Degraded("Not ready: " + string.Join(", ", down));
    }
}
