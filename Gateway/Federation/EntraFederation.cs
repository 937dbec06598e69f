using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Identity.Web;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenHvx.Contracts;

namespace OpenHvx.Gateway.Federation;

/// <summary>
/// Optional: Microsoft Entra ID tokens, accepted when an <c>AzureAd</c> section is configured. Their app roles map to
/// ours, the Entra directory (<c>tid</c>) to one of our tenants; the request then travels upstream with a short-lived
/// token of ours, so the orchestrator only ever validates our own issuer.
/// </summary>
public static class EntraFederation
{
    public const string Scheme = "Entra";
    public const string SelectorScheme = "BearerOrEntra";
    public const string Section = "AzureAd";

    public static bool IsConfigured(IConfiguration configuration) => configuration.GetSection(Section).Exists();

    public static void AddEntraFederation(this AuthenticationBuilder authentication, IConfiguration configuration)
    {
        if (!IsConfigured(configuration))
            return;
        var mapping = configuration.GetSection($"{GatewayOptions.Section}:Entra").Get<EntraMapping>() ?? new EntraMapping();
        // Admins come from the operator's own directory only, unless others are named explicitly.
        if (mapping.AdminDirectories.Count == 0 && configuration[$"{Section}:TenantId"] is { Length: > 0 } home)
            mapping.AdminDirectories.Add(home);
        authentication.Services.AddSingleton(mapping);
        authentication.AddMicrosoftIdentityWebApi(configuration.GetSection(Section), jwtBearerScheme: Scheme);
        authentication.Services.PostConfigure<JwtBearerOptions>(Scheme, bearer =>
        {
            var validated = bearer.Events.OnTokenValidated;
            bearer.Events.OnTokenValidated = async context =>
            {
                await validated(context);
                var mapped = context.HttpContext.RequestServices.GetRequiredService<EntraMapping>().Map(context.Principal!);
                if (mapped is null)
                {
                    context.Fail("The Entra token carries no app role that OpenHVX knows, or its directory maps to no tenant.");
                    return;
                }
                context.Principal = mapped;
                var token = context.HttpContext.RequestServices.GetRequiredService<InternalTokens>().Mint(mapped);
                context.HttpContext.Request.Headers.Authorization = "Bearer " + token;
            };
        });
        // Pick the scheme by issuer without validating anything: the chosen scheme validates everything.
        authentication.AddPolicyScheme(SelectorScheme, "Our tokens or Entra ID's", policy => policy.ForwardDefaultSelector = http =>
        {
            var header = http.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return JwtBearerDefaults.AuthenticationScheme;
            var handler = new JsonWebTokenHandler();
            var raw = header["Bearer ".Length..].Trim();
            try
            {
                return handler.CanReadToken(raw) && IsEntraIssuer(handler.ReadJsonWebToken(raw).Issuer) ? Scheme : JwtBearerDefaults.AuthenticationScheme;
            }
            catch (ArgumentException)
            {
                // Not a readable JWT: our scheme refuses it with 401.
                return JwtBearerDefaults.AuthenticationScheme;
            }
        });
    }

    public static bool IsEntraIssuer(string? issuer)
        => issuer is not null && (issuer.StartsWith("https://login.microsoftonline.com/", StringComparison.OrdinalIgnoreCase)
                                  || issuer.StartsWith("https://sts.windows.net/", StringComparison.OrdinalIgnoreCase));
}

/// <summary>How Entra ID identities become ours (section <c>Gateway:Entra</c>).</summary>
public sealed class EntraMapping
{
    /// <summary>Entra app role value → our role.</summary>
    public Dictionary<string, string> Roles { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["OpenHvx.GlobalAdmin"] = Contracts.Roles.GlobalAdmin,
        ["OpenHvx.TenantAdmin"] = Contracts.Roles.TenantAdmin,
        ["OpenHvx.TenantUser"] = Contracts.Roles.TenantUserReadWrite,
        ["OpenHvx.TenantReader"] = Contracts.Roles.TenantUserRead,
    };

    /// <summary>Entra directory id (<c>tid</c>) → our tenant id: each customer's directory is one tenant.</summary>
    public Dictionary<string, string> Tenants { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Directories whose app role <c>OpenHvx.GlobalAdmin</c> is honoured (default: <c>AzureAd:TenantId</c>). A
    /// multi-tenant app lets any directory's admin assign app roles to themselves: those never become our admins.
    /// </summary>
    public HashSet<string> AdminDirectories { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Our identity for an Entra principal, or null when it has none: no known app role, tenant roles without a mapped
    /// directory, or admin and tenant roles at once (ambiguous, refused rather than guessed).
    /// </summary>
    public ClaimsPrincipal? Map(ClaimsPrincipal entra)
    {
        var roles = entra.FindAll("roles").Concat(entra.FindAll(ClaimTypes.Role)).Concat(entra.FindAll("role"))
            .Select(c => Roles.TryGetValue(c.Value, out var ours) ? ours : null)
            .OfType<string>().Distinct().ToList();
        if (roles.Count == 0)
            return null;
        var admin = roles.Contains(Contracts.Roles.GlobalAdmin);
        if (admin && roles.Count > 1)
            return null;
        var directory = entra.FindFirst("tid")?.Value ?? entra.FindFirst("http://schemas.microsoft.com/identity/claims/tenantid")?.Value;
        string? tenantId = null;
        if (admin && (directory is null || !AdminDirectories.Contains(directory)))
            return null;
        if (!admin && (directory is null || !Tenants.TryGetValue(directory, out tenantId)))
            return null;
        var objectId = entra.FindFirst("oid")?.Value ?? entra.FindFirst("http://schemas.microsoft.com/identity/claims/objectidentifier")?.Value
                       ?? entra.FindFirst("sub")?.Value;
        if (objectId is null)
            return null;

        var identity = new ClaimsIdentity(EntraFederation.Scheme, TokenClaims.Subject, TokenClaims.Role);
        identity.AddClaim(new Claim(TokenClaims.Subject, "entra:" + objectId));
        identity.AddClaim(new Claim("aud", admin ? Audiences.Admin : Audiences.Tenant));
        if (tenantId is not null)
            identity.AddClaim(new Claim(TokenClaims.TenantId, tenantId));
        identity.AddClaims(roles.Select(r => new Claim(TokenClaims.Role, r)));
        identity.AddClaim(new Claim(TokenClaims.Scope, string.Join(' ', Scopes.GrantedBy(roles))));
        return new ClaimsPrincipal(identity);
    }
}
