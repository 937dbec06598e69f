using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Api;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Security;

public static class OrchestratorPolicies
{
    public const string Admin = "admin";
    public const string TenantRead = "tenant-read";
    public const string TenantWrite = "tenant-write";
    /// <summary>A tenant's administrators (role tenant-admin), as for managing its users.</summary>
    public const string TenantAdmin = "tenant-admin";
}

/// <summary>
/// The orchestrator never trusts the gateway's word: it validates every bearer token itself against the token
/// service's discovery document (issuer, signature, lifetime, RS256 only, type at+jwt) and authorizes by audience,
/// role and scope.
/// </summary>
public static class OrchestratorSecurity
{
    public static IServiceCollection AddOrchestratorSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        var authority = configuration["OPENHVX_AUTHORITY"] is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : configuration[$"{OrchestratorOptions.Section}:{nameof(OrchestratorOptions.Authority)}"];
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(bearer =>
        {
            // Checked when the first request arrives (DevHost learns the gateway's address only after both have started).
            bearer.Authority = authority;
            bearer.RequireHttpsMetadata = authority?.StartsWith("https:", StringComparison.OrdinalIgnoreCase) == true;
            // A token service that was down at the orchestrator's first request is asked again soon, not in 5 minutes.
            bearer.RefreshInterval = TimeSpan.FromSeconds(10);
            bearer.MapInboundClaims = false;
            bearer.TokenValidationParameters = new TokenValidationParameters
            {
                ValidAudiences = [Audiences.Admin, Audiences.Tenant],
                ValidAlgorithms = TokenClaims.Algorithms,
                ValidTypes = ["at+jwt"],
                NameClaimType = TokenClaims.Subject,
                RoleClaimType = TokenClaims.Role,
                ClockSkew = TokenClaims.ClockSkew,
            };
            bearer.Events = new JwtBearerEvents
            {
                // A token of a removed user, client or tenant, or of a revoked refresh chain, ends before it expires.
                OnTokenValidated = context =>
                {
                    if (context.HttpContext.RequestServices.GetRequiredService<TokenServicePoller>().Revocations.IsRevoked(context.Principal!))
                        context.Fail("The token was revoked.");
                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                    await WriteAsync(context.HttpContext, ErrorCodes.Unauthenticated, "A valid bearer token of this API's audience is required.", StatusCodes.Status401Unauthorized);
                },
                OnForbidden = context => WriteAsync(context.HttpContext, ErrorCodes.Forbidden, "Your token does not grant this.", StatusCodes.Status403Forbidden),
            };
        });
        services.AddHttpClient(TokenServicePoller.HttpClientName, client =>
        {
            if (Uri.TryCreate(authority, UriKind.Absolute, out var baseAddress))
                client.BaseAddress = baseAddress;
            client.Timeout = TimeSpan.FromSeconds(10);
        });
        services.AddSingleton<TokenServicePoller>();
        // The keys as last read from the token service (a key dropped there is dropped here at the next read); the discovery
        // document's, which JwtBearer reads only twice a day, until the first read.
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<TokenServicePoller>((bearer, poller) =>
            bearer.TokenValidationParameters.IssuerSigningKeyResolver = (_, _, _, parameters) => poller.SigningKeys ?? parameters.IssuerSigningKeys);
        services.AddHostedService(sp => sp.GetRequiredService<TokenServicePoller>());
        services.AddSingleton<IdentityDirectory>();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Validate(
            bearer => !string.IsNullOrEmpty(bearer.Authority), "Set OPENHVX_AUTHORITY (Orchestrator:Authority): the token service whose keys validate bearer tokens.")
            .ValidateOnStart();

        services.AddAuthorizationBuilder()
            .AddPolicy(OrchestratorPolicies.Admin, policy => policy.RequireClaim("aud", Audiences.Admin).RequireRole(Roles.GlobalAdmin)
                .RequireAssertion(c => HasScope(c.User, Scopes.Admin)))
            .AddPolicy(OrchestratorPolicies.TenantRead, policy => policy.RequireClaim("aud", Audiences.Tenant).RequireClaim(TokenClaims.TenantId)
                .RequireRole([.. Roles.TenantRoles]).RequireAssertion(c => HasScope(c.User, Scopes.Read)))
            .AddPolicy(OrchestratorPolicies.TenantWrite, policy => policy.RequireClaim("aud", Audiences.Tenant).RequireClaim(TokenClaims.TenantId)
                .RequireRole([.. Roles.TenantWriters]).RequireAssertion(c => HasScope(c.User, Scopes.Write)))
            .AddPolicy(OrchestratorPolicies.TenantAdmin, policy => policy.RequireClaim("aud", Audiences.Tenant).RequireClaim(TokenClaims.TenantId)
                .RequireRole(Roles.TenantAdmin).RequireAssertion(c => HasScope(c.User, Scopes.Read)));
        return services;
    }

    private static bool HasScope(ClaimsPrincipal user, string scope) => TokenClaims.ScopesIn(user.FindAll(TokenClaims.Scope).Select(c => c.Value)).Contains(scope);

    private static Task WriteAsync(HttpContext http, string code, string detail, int status)
    {
        var problem = Problems.Create(code, detail, status: status);
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(problem, (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
    }
}
