using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Federation;
using OpenHvx.Gateway.Proxy;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Identity;

public static class GatewayPolicies
{
    public const string Admin = "admin";
    public const string TenantUsers = "tenant-users";
}

public static class GatewayAuthentication
{
    /// <summary>Our own access tokens, validated with the persisted key: issuer, audience, lifetime, RS256 only, type at+jwt.</summary>
    public static IServiceCollection AddGatewayAuthentication(this IServiceCollection services, GatewayOptions options, IConfiguration configuration)
    {
        var federated = Federation.EntraFederation.IsConfigured(configuration);
        services.AddSingleton<Federation.InternalTokens>();
        var authentication = services.AddAuthentication(federated ? Federation.EntraFederation.SelectorScheme : JwtBearerDefaults.AuthenticationScheme);
        authentication.AddEntraFederation(configuration);
        authentication.AddJwtBearer(bearer =>
            {
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
                        if (context.HttpContext.RequestServices.GetRequiredService<RevocationList>().Current.IsRevoked(context.Principal!))
                            context.Fail("The token was revoked.");
                        return Task.CompletedTask;
                    },
                };
            });
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IdentityKeys, TokenIssuer>((bearer, keys, issuer) =>
            {
                bearer.TokenValidationParameters.IssuerSigningKeyResolver = (_, _, keyId, _) => keys.ResolveValidationKeys(keyId);
                // The issuer may be known only once the gateway listens (TokenIssuer).
                bearer.TokenValidationParameters.IssuerValidator = (iss, _, _) => iss == issuer.Current?.AbsoluteUri
                    ? iss
                    : throw new SecurityTokenInvalidIssuerException($"The issuer '{iss}' is not this token service.") { InvalidIssuer = iss };
            });

        services.AddAuthorizationBuilder()
            .AddPolicy(GatewayPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireClaim("aud", Audiences.Admin).RequireRole(Roles.GlobalAdmin)
                .RequireAssertion(c => ApiGuard.ScopesOf(c.User).Contains(Scopes.Admin)))
            .AddPolicy(GatewayPolicies.TenantUsers, policy => policy.RequireAuthenticatedUser().RequireClaim("aud", Audiences.Tenant).RequireRole(Roles.TenantAdmin)
                .RequireClaim(TokenClaims.TenantId).RequireAssertion(c => ApiGuard.ScopesOf(c.User).Contains(Scopes.Users)));
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResults>();
        return services;
    }
}

/// <summary>Authorization refusals as problem details with a code, like every other error.</summary>
internal sealed class ProblemAuthorizationResults : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Challenged)
            return Problems.WriteAsync(context, ErrorCodes.Unauthenticated, status: StatusCodes.Status401Unauthorized, detail: "A valid bearer token is required.");
        if (result.Forbidden)
            return Problems.WriteAsync(context, ErrorCodes.Forbidden, status: StatusCodes.Status403Forbidden, detail: "Your token does not grant this.");
        return _default.HandleAsync(next, context, policy, result);
    }
}
