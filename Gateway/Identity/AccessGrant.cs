using System.Security.Claims;
using OpenHvx.Contracts;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The claims of api.md for a subject, whatever the grant (password, client credentials, refresh, authorization code, device
/// code): its audience, its tenant, its roles, the scopes its roles grant (narrowed to those asked for, and never wider than the
/// grant it continues) and the lifetime of its audience.
/// </summary>
public static class AccessGrant
{
    /// <param name="requestedScopes">The scopes asked for (none: every scope the roles grant).</param>
    /// <param name="narrowedTo">The scopes of the grant this one continues (a refresh, a code), or null for a new grant.</param>
    /// <param name="offline">Whether a refresh token comes with the access token.</param>
    public static (ClaimsPrincipal? Principal, GrantRefusal? Refusal) For(Subject subject, string audience, IEnumerable<string> requestedScopes,
        IReadOnlyCollection<string>? narrowedTo, bool offline, GatewayOptions options)
    {
        if (audience != subject.Audience)
            return (null, new GrantRefusal(Oidc.Errors.InvalidGrant, "The grant is for another audience than this account's."));
        var allowed = Scopes.GrantedBy(subject.Roles).Where(s => narrowedTo is null || narrowedTo.Contains(s)).ToList();
        var requested = requestedScopes.Where(s => s != Oidc.Scopes.OfflineAccess).ToList();
        var granted = requested.Count == 0 ? allowed : allowed.Intersect(requested).ToList();
        if (granted.Count == 0)
            return (null, new GrantRefusal(Oidc.Errors.InvalidScope, $"None of the requested scopes is granted to this account; it may have: {string.Join(' ', allowed)}."));

        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Oidc.Claims.Subject, Oidc.Claims.Role);
        identity.SetClaim(Oidc.Claims.Subject, subject.Id);
        if (subject.TenantId is not null)
            identity.SetClaim(TokenClaims.TenantId, subject.TenantId);
        identity.SetClaims(Oidc.Claims.Role, [.. subject.Roles]);
        identity.SetAudiences(audience);
        identity.SetScopes(offline ? [.. granted, Oidc.Scopes.OfflineAccess] : [.. granted]);
        identity.SetAccessTokenLifetime(subject.IsAdmin ? options.AdminTokenLifetime : options.TenantTokenLifetime);
        identity.SetDestinations(_ => [Oidc.Destinations.AccessToken]);
        return (new ClaimsPrincipal(identity), null);
    }
}
