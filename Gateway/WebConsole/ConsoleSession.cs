using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenHvx.Contracts;

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
            && http.Request.Headers.Authorization.Count == 0 && IsConsoleRequest(http.Request)
            && await CurrentAsync(http, tokenClient, clock) is { } session)
            http.Request.Headers.Authorization = "Bearer " + session.Tokens.AccessToken;
        await next(http);
    }

    public static bool IsConsoleRequest(HttpRequest request) => request.Headers[ConsolePaths.RequestHeader] == "1";

    /// <summary>The signed-in session with a fresh access token; null (and the cookie removed) when there is none or it cannot be renewed.</summary>
    public static async Task<(ClaimsPrincipal User, ConsoleTokenSet Tokens)?> CurrentAsync(HttpContext http, ConsoleTokenClient tokenClient, TimeProvider clock)
    {
        var authenticated = await http.AuthenticateAsync(ConsolePaths.Scheme);
        if (!authenticated.Succeeded || ConsoleTokenSet.From(authenticated.Properties) is not { } tokens)
            return null;
        if (tokens.ExpiresAt - clock.GetUtcNow() > RenewBefore)
            return (authenticated.Principal, tokens);
        var renewed = tokens.RefreshToken is { } refresh ? await tokenClient.RenewAsync(refresh, http.RequestAborted) : null;
        if (renewed is null)
        {
            await http.SignOutAsync(ConsolePaths.Scheme);
            return null;
        }
        var user = PrincipalOf(renewed);
        await SignInAsync(http, user, renewed);
        return (user, renewed);
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
