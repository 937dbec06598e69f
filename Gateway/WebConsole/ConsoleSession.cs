using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.WebConsole;

/// <summary>
/// The console's session: a cookie (HttpOnly, SameSite=Strict) holding the access and refresh tokens, encrypted with the
/// gateway's key ring. Scripts never see a token; a request of the console's scripts to <c>/api/</c> (it carries
/// <see cref="ConsolePaths.RequestHeader"/>) gets the session's access token as its bearer token, renewed when it is about to
/// expire, and then goes through the same checks as any other API call.
/// </summary>
public sealed class ConsoleSession(RequestDelegate next, ConsoleTokenClient tokenClient, TimeProvider clock)
{
    /// <summary>An access token this close to its expiry is renewed first, so that it does not expire on its way to the orchestrator.</summary>
    private static readonly TimeSpan RenewBefore = TimeSpan.FromSeconds(60);

    public async Task InvokeAsync(HttpContext http)
    {
        if (http.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
            && http.Request.Headers.Authorization.Count == 0 && IsConsoleRequest(http.Request))
        {
            var session = await CurrentAsync(http, tokenClient, clock);
            if (session.Unavailable)
            {
                await WriteUnavailableAsync(http);
                return;
            }
            if (session.Tokens is { } tokens)
                http.Request.Headers.Authorization = "Bearer " + tokens.AccessToken;
        }
        await next(http);
    }

    public static bool IsConsoleRequest(HttpRequest request) => request.Headers[ConsolePaths.RequestHeader] == "1";

    /// <summary>The token service could not renew the session's token: the session stays, the call is answered 503.</summary>
    public static Task WriteUnavailableAsync(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "5";
        return Problems.WriteAsync(http, ErrorCodes.Unavailable, "The session's token could not be renewed just now; try again shortly.", StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>
    /// The signed-in session with a fresh access token. None (and the cookie removed) when there is no session or the token service
    /// refused to renew it; <see cref="ConsoleSessionLookup.Unavailable"/> when it could not be asked (the cookie stays).
    /// </summary>
    public static async Task<ConsoleSessionLookup> CurrentAsync(HttpContext http, ConsoleTokenClient tokenClient, TimeProvider clock)
    {
        var authenticated = await http.AuthenticateAsync(ConsolePaths.Scheme);
        if (!authenticated.Succeeded || ConsoleTokenSet.From(authenticated.Properties) is not { } tokens)
            return ConsoleSessionLookup.None;
        if (tokens.ExpiresAt - clock.GetUtcNow() > RenewBefore)
            return new(authenticated.Principal, tokens, false);
        var renewed = tokens.RefreshToken is { } refresh ? await tokenClient.RenewAsync(refresh, http.RequestAborted) : ConsoleTokenOutcome.Refused;
        if (renewed.Unavailable)
            return new(null, null, true);
        if (renewed.Tokens is not { } fresh)
        {
            await http.SignOutAsync(ConsolePaths.Scheme);
            return ConsoleSessionLookup.None;
        }
        var user = PrincipalOf(fresh);
        await SignInAsync(http, user, fresh);
        return new(user, fresh, false);
    }

    public static Task SignInAsync(HttpContext http, ClaimsPrincipal user, ConsoleTokenSet tokens)
    {
        var properties = new AuthenticationProperties { IsPersistent = false };
        tokens.StoreIn(properties);
        return http.SignInAsync(ConsolePaths.Scheme, user, properties);
    }

    /// <summary>Who the session is, read from the access token the token service has just issued to the gateway itself.</summary>
    public static ClaimsPrincipal PrincipalOf(ConsoleTokenSet tokens)
    {
        var token = new JsonWebTokenHandler().ReadJsonWebToken(tokens.AccessToken);
        string[] kept = [TokenClaims.Subject, TokenClaims.TenantId, TokenClaims.Role, TokenClaims.Scope, "aud"];
        var identity = new ClaimsIdentity(token.Claims.Where(c => kept.Contains(c.Type)).Select(c => new Claim(c.Type, c.Value)),
            ConsolePaths.Scheme, TokenClaims.Subject, TokenClaims.Role);
        return new ClaimsPrincipal(identity);
    }
}

/// <summary>A console session found (user and fresh tokens), none, or not renewable just now.</summary>
public sealed record ConsoleSessionLookup(ClaimsPrincipal? User, ConsoleTokenSet? Tokens, bool Unavailable)
{
    public static readonly ConsoleSessionLookup None = new(null, null, false);
}
