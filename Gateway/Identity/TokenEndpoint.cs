using System.Collections.Immutable;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// <c>POST /connect/token</c>: OpenIddict has checked the protocol (grant type, client, refresh token); this decides
/// who the caller is, which audience it may have, and the claims of api.md.
/// </summary>
public static class TokenEndpoint
{

    /// <summary>Where the request's <c>audience</c> field is kept (see AddGateway).</summary>
    public const string AudienceParameter = "openhvx_audience";

    /// <summary>Properties of a service client (an OpenIddict application) that say what its tokens carry.</summary>
    public const string TenantProperty = "openhvx_tenant_id";
    public const string RolesProperty = "openhvx_roles";

    public static IEndpointRouteBuilder MapTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost(TokenServicePaths.Token, ExchangeAsync).RequireRateLimiting(GatewayRateLimits.TokenPolicy).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ExchangeAsync(
        HttpContext http, GatewayDbContext db, IOpenIddictApplicationManager applications, HostAudiences hosts,
        IOptions<GatewayOptions> options, UserPasswords passwords, SignInGuard guard, TimeProvider clock)
    {
        // Before any account is read: a revocation after this moment may not have been seen by what follows.
        var startedAt = clock.GetUtcNow();
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("OpenIddict did not parse the token request.");
        var address = http.Connection.RemoteIpAddress;
        if (request.IsPasswordGrantType() && guard.Check(request.Username ?? "", address) is { Allowed: false } refused)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(refused.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problems.Result(ErrorCodes.RateLimited, "Too many failed sign-ins from this address; retry after the time in Retry-After.");
        }
        var requestedAudience = hosts.OfHost(http.Request.Host.Host) ?? (string?)request[AudienceParameter] ?? Audiences.Tenant;
        if (!Audiences.IsKnown(requestedAudience))
            return Refuse(Oidc.Errors.InvalidRequest, "'audience' must be 'admin' or 'tenant'.");

        Subject subject;
        var offline = false;
        IReadOnlyList<string>? narrowedTo = null;
        if (request.IsPasswordGrantType())
        {
            var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Username == (request.Username ?? "").ToLowerInvariant(), http.RequestAborted);
            // An unknown user costs a hash too, so that timing does not tell which usernames exist.
            if (!passwords.Verify(user, request.Password ?? "") || user!.Disabled)
            {
                guard.Failed(request.Username ?? "", address);
                return Refuse(Oidc.Errors.InvalidGrant, "The username or password is wrong.");
            }
            guard.Succeeded(request.Username ?? "", address);
            subject = Subject.Of(user);
            offline = true;
        }
        else if (request.IsClientCredentialsGrantType())
        {
            var application = await applications.FindByClientIdAsync(request.ClientId!, http.RequestAborted);
            if (application is null)
                return Refuse(Oidc.Errors.InvalidClient, "Unknown client.");
            subject = await Subject.OfClientAsync(applications, application, http.RequestAborted);
        }
        else if (request.IsRefreshTokenGrantType())
        {
            var previous = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
            var name = previous?.GetClaim(Oidc.Claims.Subject);
            var user = name is null ? null : await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Username == name, http.RequestAborted);
            // A refresh token made before its user or tenant was revoked (one issued while the revocation happened) ends with it.
            if (user is null || user.Disabled
                || await RevocationList.LatestRevocationAsync(db, KeysOf(Subject.Of(user)), http.RequestAborted) >= (previous!.GetCreationDate() ?? DateTimeOffset.MinValue).ToUnixTimeMilliseconds())
                return Refuse(Oidc.Errors.InvalidGrant, "The refresh token is no longer valid.");
            // The roles and tenant are read again: a change since the last token applies now.
            subject = Subject.Of(user);
            requestedAudience = previous!.GetAudiences().FirstOrDefault() ?? requestedAudience;
            offline = true;
            // Never wider than the grant it continues: a token narrowed to read stays read.
            narrowedTo = previous!.GetScopes().Where(s => s != Oidc.Scopes.OfflineAccess).ToList();
        }
        else
        {
            return Refuse(Oidc.Errors.UnsupportedGrantType, "Use grant_type password, client_credentials or refresh_token.");
        }

        var audience = subject.IsAdmin ? Audiences.Admin : Audiences.Tenant;
        if (audience != requestedAudience)
            return Refuse(Oidc.Errors.InvalidGrant, subject.IsAdmin
                ? "An admin obtains admin tokens only (use the admin host, or audience=admin)."
                : "A tenant user obtains tenant tokens only (use the tenant host, or audience=tenant).");

        var allowed = Scopes.GrantedBy(subject.Roles).Where(s => narrowedTo is null || narrowedTo.Contains(s)).ToList();
        var requested = request.GetScopes().Where(s => s != Oidc.Scopes.OfflineAccess).ToList();
        var granted = requested.Count == 0 ? allowed : allowed.Intersect(requested).ToList();
        if (granted.Count == 0)
            return Refuse(Oidc.Errors.InvalidScope, $"None of the requested scopes is granted to this account; it may have: {string.Join(' ', allowed)}.");

        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Oidc.Claims.Subject, Oidc.Claims.Role);
        identity.SetClaim(Oidc.Claims.Subject, subject.Id);
        if (subject.TenantId is not null)
            identity.SetClaim(TokenClaims.TenantId, subject.TenantId);
        identity.SetClaims(Oidc.Claims.Role, [.. subject.Roles]);
        identity.SetAudiences(audience);
        identity.SetScopes(offline ? [.. granted, Oidc.Scopes.OfflineAccess] : [.. granted]);
        identity.SetAccessTokenLifetime(subject.IsAdmin ? options.Value.AdminTokenLifetime : options.Value.TenantTokenLifetime);
        identity.SetDestinations(_ => [Oidc.Destinations.AccessToken]);
        return await IssueAsync(http, new ClaimsPrincipal(identity), subject, startedAt, db, clock);
    }

    private static string[] KeysOf(Subject subject)
        => subject.TenantId is null ? [Revocations.SubjectKey(subject.Id)] : [Revocations.SubjectKey(subject.Id), Revocations.TenantKey(subject.TenantId)];

    /// <summary>
    /// Issues the tokens unless <paramref name="subject"/> or its tenant was revoked since the request began (the account was
    /// read before the change). Revocations refuse tokens issued up to the second they happened in (a token's <c>iat</c> has
    /// whole seconds), so a token for a subject or tenant revoked earlier in this very second (a tenant deleted and created
    /// again at once) waits for the next second. The last check and the tokens' creation hold the store's write lock, which
    /// a revocation takes too: a revocation lands either before the check, and is seen, or after the tokens, and ends them.
    /// </summary>
    private static async Task<IResult> IssueAsync(HttpContext http, ClaimsPrincipal principal, Subject subject, DateTimeOffset startedAt, GatewayDbContext db,
        TimeProvider clock)
    {
        var keys = KeysOf(subject);
        var cancellationToken = http.RequestAborted;
        while (true)
        {
            var latest = await RevocationList.LatestRevocationAsync(db, keys, cancellationToken);
            if (latest >= startedAt.ToUnixTimeMilliseconds())
                return Refuse(Oidc.Errors.InvalidGrant, "The account changed while this request was handled; sign in again.");
            var now = clock.GetUtcNow();
            if (latest is not null && now.ToUnixTimeSeconds() <= latest.Value / 1000)
            {
                await Task.Delay(DateTimeOffset.FromUnixTimeSeconds(latest.Value / 1000 + 1) - now + TimeSpan.FromMilliseconds(5), clock, cancellationToken);
                continue;
            }
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var seen = await RevocationList.LatestRevocationAsync(db, keys, cancellationToken);
            if (seen != latest)
                continue;
            // OpenIddict makes the tokens and stores their entries here, through this context, in this transaction.
            await http.SignInAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, principal);
            await transaction.CommitAsync(cancellationToken);
            return Results.Empty;
        }
    }

    private static IResult Refuse(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    /// <summary>A service client (an OpenIddict application) as the API shows it: what its tokens carry.</summary>
    public static async Task<UserEndpoints.ClientView> ClientOfAsync(IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken)
    {
        var properties = await applications.GetPropertiesAsync(application, cancellationToken);
        var tenant = properties.TryGetValue(TenantProperty, out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var roles = properties.TryGetValue(RolesProperty, out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(e => e.GetString()!).ToList()
            : [];
        return new UserEndpoints.ClientView(await applications.GetClientIdAsync(application, cancellationToken) ?? "", tenant, roles);
    }

    private sealed record Subject(string Id, string? TenantId, IReadOnlyList<string> Roles)
    {
        public bool IsAdmin => TenantId is null;

        public static Subject Of(GatewayUser user) => new(user.Username, user.TenantId, user.RoleList);

        public static async Task<Subject> OfClientAsync(IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken)
        {
            var client = await ClientOfAsync(applications, application, cancellationToken);
            return new Subject(AccessRevocation.ClientSubject(client.ClientId), client.TenantId, client.Roles);
        }
    }
}
