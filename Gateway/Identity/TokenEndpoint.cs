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
    /// <summary>Properties of a service client (an OpenIddict application) that say what its tokens carry.</summary>
    public const string TenantProperty = "openhvx_tenant_id";
    public const string RolesProperty = "openhvx_roles";

    public static IEndpointRouteBuilder MapTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost(TokenServicePaths.Token, ExchangeAsync).RequireRateLimiting(GatewayRateLimits.TokenPolicy).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ExchangeAsync(
        HttpContext http, GatewayDbContext db, IOpenIddictApplicationManager applications, TokenAudience audiences,
        IOptions<GatewayOptions> options, UserPasswords passwords, SignInGuard guard, TimeProvider clock)
    {
        // Before any account is read: a revocation after this moment may not have been seen by what follows.
        var startedAt = clock.GetUtcNow();
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("OpenIddict did not parse the token request.");
        if (request.IsPasswordGrantType() && guard.Check(request.Username ?? "", http.Connection.RemoteIpAddress) is { Allowed: false } refused)
            return TooManySignIns(http, refused.RetryAfter);
        var (requested, malformed) = audiences.Of(request, http);
        if (malformed is not null)
            return Refuse(malformed);

        Subject subject;
        string audience;
        var offline = false;
        IReadOnlyCollection<string>? narrowedTo = null;
        if (request.IsPasswordGrantType())
        {
            var user = await SignInAsync(db, passwords, guard, request.Username, request.Password, http);
            if (user is null)
                return Refuse(Oidc.Errors.InvalidGrant, "The username or password is wrong.");
            subject = Subject.Of(user);
            (audience, var mismatch) = TokenAudience.For(subject, requested);
            if (mismatch is not null)
                return Refuse(mismatch);
            offline = true;
        }
        else if (request.IsClientCredentialsGrantType())
        {
            var application = await applications.FindByClientIdAsync(request.ClientId!, http.RequestAborted);
            if (application is null)
                return Refuse(Oidc.Errors.InvalidClient, "Unknown client.");
            subject = await Subject.OfClientAsync(applications, application, http.RequestAborted);
            (audience, var mismatch) = TokenAudience.For(subject, requested);
            if (mismatch is not null)
                return Refuse(mismatch);
        }
        else if (request.IsRefreshTokenGrantType() || request.IsAuthorizationCodeGrantType() || request.IsDeviceCodeGrantType())
        {
            // A grant made earlier (a refresh token, or the code of a sign-in): continued for the same user and audience, never wider.
            var previous = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
            var name = previous?.GetClaim(Oidc.Claims.Subject);
            var user = name is null ? null : await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Username == name, http.RequestAborted);
            // A grant made before its user or tenant was revoked (one issued while the revocation happened) ends with it.
            if (user is null || user.Disabled
                || await RevocationList.LatestRevocationAsync(db, Subject.Of(user).RevocationKeys, http.RequestAborted) >= (previous!.GetCreationDate() ?? DateTimeOffset.MinValue).ToUnixTimeMilliseconds())
                return Refuse(Oidc.Errors.InvalidGrant, "The grant is no longer valid.");
            // The roles and tenant are read again: a change since the last token applies now.
            subject = Subject.Of(user);
            audience = previous!.GetAudiences().FirstOrDefault() ?? subject.Audience;
            if (requested is { By: TokenAudience.Indicator.Resource } && requested.Audience != audience)
                return Refuse(Oidc.Errors.InvalidTarget, "The resource differs from the one the grant was made for.");
            offline = true;
            // Never wider than the grant it continues: a token narrowed to read stays read.
            narrowedTo = previous!.GetScopes().Where(s => s != Oidc.Scopes.OfflineAccess).ToList();
        }
        else
        {
            return Refuse(Oidc.Errors.UnsupportedGrantType, "Use grant_type password, client_credentials, refresh_token, authorization_code or device_code.");
        }

        var (principal, refusal) = AccessGrant.For(subject, audience, request.GetScopes(), narrowedTo, offline, options.Value);
        if (refusal is not null)
            return Refuse(refusal);
        return await IssueAsync(http, principal!, subject, startedAt, db, clock, issued: () => Results.Empty) ?? Refuse(AccountChanged);
    }

    /// <summary>The user whose password this is (not disabled), counted by the sign-in guard; null otherwise, after the same work.</summary>
    public static async Task<GatewayUser?> SignInAsync(GatewayDbContext db, UserPasswords passwords, SignInGuard guard, string? username, string? password, HttpContext http)
    {
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Username == (username ?? "").ToLowerInvariant(), http.RequestAborted);
        // An unknown user costs a hash too, so that timing does not tell which usernames exist.
        if (!passwords.Verify(user, password ?? "") || user!.Disabled)
        {
            guard.Failed(username ?? "", http.Connection.RemoteIpAddress);
            return null;
        }
        guard.Succeeded(username ?? "", http.Connection.RemoteIpAddress);
        return user;
    }

    public static IResult TooManySignIns(HttpContext http, TimeSpan retryAfter)
    {
        SetRetryAfter(http, retryAfter);
        return Problems.Result(ErrorCodes.RateLimited, "Too many failed sign-ins from this address; retry after the time in Retry-After.");
    }

    public static void SetRetryAfter(HttpContext http, TimeSpan retryAfter)
        => http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static readonly GrantRefusal AccountChanged = new(Oidc.Errors.InvalidGrant, "The account changed while this request was handled; sign in again.");

    /// <summary>
    /// Issues the tokens (or the code) unless <paramref name="subject"/> or its tenant was revoked since the request began (the
    /// account was read before the change): then null. Revocations refuse tokens issued up to the second they happened in (a
    /// token's <c>iat</c> has whole seconds), so a token for a subject or tenant revoked earlier in this very second (a tenant
    /// deleted and created again at once) waits for the next second. The last check and the tokens' creation hold the store's
    /// write lock, which a revocation takes too: a revocation lands either before the check, and is seen, or after the tokens,
    /// and ends them. <paramref name="issued"/> is the answer when OpenIddict does not write one itself.
    /// </summary>
    public static async Task<IResult?> IssueAsync(HttpContext http, ClaimsPrincipal principal, Subject subject, DateTimeOffset startedAt, GatewayDbContext db,
        TimeProvider clock, Func<IResult> issued)
    {
        var keys = subject.RevocationKeys;
        var cancellationToken = http.RequestAborted;
        while (true)
        {
            var latest = await RevocationList.LatestRevocationAsync(db, keys, cancellationToken);
            if (latest >= startedAt.ToUnixTimeMilliseconds())
                return null;
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
            // OpenIddict makes the tokens and stores their entries here, through this context, in this transaction. It also writes
            // its answer: held back until the commit, or a client quick to use its new refresh token finds no entry for it yet.
            var body = http.Response.Body;
            using var answer = new MemoryStream();
            http.Response.Body = answer;
            try
            {
                await http.SignInAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, principal);
                await transaction.CommitAsync(cancellationToken);
            }
            finally
            {
                http.Response.Body = body;
            }
            answer.Position = 0;
            await answer.CopyToAsync(body, cancellationToken);
            return issued();
        }
    }

    public static IResult Refuse(GrantRefusal refusal) => Refuse(refusal.Error, refusal.Description);

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
}
