using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.FileProviders;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Identity;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.WebConsole;

/// <summary>
/// The operations console at <c>/console</c>: static pages and scripts shipped with the gateway (no build step), signed in with
/// the authorization code and PKCE as <see cref="FirstPartyClients.Console"/>, the tokens kept by the gateway (<see cref="ConsoleSession"/>).
/// </summary>
public static class ConsoleEndpoints
{
    private const string SignInCookie = "openhvx-console-signin";
    private const string MovedParameter = "moved";
    private const string SignInPurpose = "OpenHvx.Console.SignIn";
    private static readonly TimeSpan SignInLifetime = TimeSpan.FromMinutes(10);

    /// <summary>Scripts and styles from the gateway only, no inline code, no frames, calls to the gateway only.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static IServiceCollection AddWebConsole(this IServiceCollection services, GatewayOptions options)
    {
        services.AddAuthentication().AddCookie(ConsolePaths.Scheme, cookie =>
        {
            cookie.Cookie.Name = "openhvx-console";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            // Behind a proxy that ends TLS the request looks like plain HTTP: an https issuer says the browser uses TLS.
            cookie.Cookie.SecurePolicy = TokenIssuer.Parse(options.Issuer)?.Scheme == Uri.UriSchemeHttps ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            cookie.Cookie.Path = "/";
            cookie.ExpireTimeSpan = options.RefreshTokenLifetime;
            cookie.SlidingExpiration = false;
            cookie.Events = new CookieAuthenticationEvents
            {
                OnRedirectToLogin = context => Problems.WriteAsync(context.HttpContext, ErrorCodes.Unauthenticated, "Sign in to the console first.", StatusCodes.Status401Unauthorized),
                OnRedirectToAccessDenied = context => Problems.WriteAsync(context.HttpContext, ErrorCodes.Forbidden, "Not allowed.", StatusCodes.Status403Forbidden),
            };
        });
        services.AddSingleton<ConsoleTokenClient>();
        services.AddHttpClient(ConsoleTokenClient.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        return services;
    }

    /// <summary>Security headers on every console answer, the static files, and the session cookie turned into a bearer token.</summary>
    public static WebApplication UseWebConsole(this WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            if (http.Request.Path.StartsWithSegments(ConsolePaths.Root))
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                headers.CacheControl = "no-cache";
                if (http.Request.Path.Value is ConsolePaths.Root)
                {
                    http.Response.Redirect(ConsolePaths.Root + "/");
                    return;
                }
                if (http.Request.Path.Value is ConsolePaths.Root + "/")
                    http.Request.Path = ConsolePaths.Root + "/index.html";
            }
            await next(http);
        });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "console")),
            RequestPath = ConsolePaths.Root,
        });
        app.UseMiddleware<ConsoleSession>();
        return app;
    }

    public static IEndpointRouteBuilder MapWebConsole(this IEndpointRouteBuilder app)
    {
        var console = app.MapGroup("").ExcludeFromDescription();
        // The browser's own steps of the sign-in count against its address, as the sign-in page does.
        console.MapGet(ConsolePaths.SignIn, SignIn).RequireRateLimiting(Proxy.GatewayRateLimits.TokenPolicy);
        console.MapGet(ConsolePaths.Callback, CallbackAsync).RequireRateLimiting(Proxy.GatewayRateLimits.TokenPolicy);
        console.MapPost(ConsolePaths.SignOut, SignOutAsync);
        console.MapGet(ConsolePaths.Session, SessionAsync);
        return app;
    }

    /// <summary>Starts the authorization code flow with PKCE; the state and verifier wait in a short-lived encrypted cookie.</summary>
    private static IResult SignIn(HttpContext http, TokenIssuer issuer, IDataProtectionProvider protection, TimeProvider clock)
    {
        var origin = issuer.Current!;
        // The callback is at the issuer's address: the cookie with the verifier must be set there too. Once only: behind a proxy that
        // does not pass the host on, the request never looks like the issuer's, and the browser is at the issuer's address anyway.
        if (!string.Equals(origin.Authority, http.Request.Host.Value, StringComparison.OrdinalIgnoreCase) && http.Request.Query[MovedParameter] != "1")
            return Results.Redirect(new Uri(origin, ConsolePaths.SignIn.TrimStart('/') + "?" + MovedParameter + "=1").AbsoluteUri);

        var state = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(16));
        var verifier = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var challenge = WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var protector = protection.CreateProtector(SignInPurpose).ToTimeLimitedDataProtector();
        http.Response.Cookies.Append(SignInCookie, protector.Protect(JsonSerializer.Serialize(new SignInState(state, verifier)), clock.GetUtcNow().Add(SignInLifetime)),
            SignInCookieOptions(http, origin));
        var authorize = QueryHelpers.AddQueryString(new Uri(origin, TokenServicePaths.Authorize.TrimStart('/')).AbsoluteUri, new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = FirstPartyClients.Console,
            ["redirect_uri"] = CallbackUri(origin).AbsoluteUri,
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["state"] = state,
        });
        return Results.Redirect(authorize);
    }

    private static async Task<IResult> CallbackAsync(HttpContext http, string? code, string? state, string? error, TokenIssuer issuer,
        IDataProtectionProvider protection, ConsoleTokenClient tokenClient)
    {
        var stored = http.Request.Cookies[SignInCookie];
        http.Response.Cookies.Delete(SignInCookie, SignInCookieOptions(http, issuer.Current!));
        SignInState? expected = null;
        try
        {
            if (stored is not null)
                expected = JsonSerializer.Deserialize<SignInState>(protection.CreateProtector(SignInPurpose).ToTimeLimitedDataProtector().Unprotect(stored));
        }
        catch (CryptographicException)
        {
            // Expired or forged: start again below.
        }
        // A browser lands here: failures go back to the console's start page, which says so (no detail from the query is shown).
        if (error is not null)
            return Results.Redirect(ConsolePaths.Root + "/?signin=refused");
        if (expected is null || state is null || code is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(state), Encoding.ASCII.GetBytes(expected.State)))
            return Results.Redirect(ConsolePaths.SignIn);
        var redeemed = await tokenClient.RedeemAsync(code, expected.Verifier, CallbackUri(issuer.Current!), http.RequestAborted);
        if (redeemed.Tokens is not { } tokens)
            return Results.Redirect(ConsolePaths.Root + "/?signin=failed");
        await ConsoleSession.SignInAsync(http, ConsoleSession.PrincipalOf(tokens), tokens);
        return Results.Redirect(ConsolePaths.Root + "/");
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, ConsoleTokenClient tokenClient)
    {
        if (!ConsoleSession.IsConsoleRequest(http.Request))
            return Problems.Result(ErrorCodes.Forbidden, $"Sign out from the console (header {ConsolePaths.RequestHeader}).", status: StatusCodes.Status403Forbidden);
        var authenticated = await http.AuthenticateAsync(ConsolePaths.Scheme);
        // The cookie goes whatever happens; a grant the token service could not revoke just now lives on until it expires (logged).
        await http.SignOutAsync(ConsolePaths.Scheme);
        if (authenticated.Succeeded && ConsoleTokenSet.From(authenticated.Properties)?.RefreshToken is { } refresh)
            await tokenClient.RevokeAsync(refresh, http.RequestAborted);
        return Results.NoContent();
    }

    /// <summary>Who is signed in and which API the console uses; never the tokens.</summary>
    private static async Task<IResult> SessionAsync(HttpContext http, ConsoleTokenClient tokenClient, TimeProvider clock)
    {
        if (!ConsoleSession.IsConsoleRequest(http.Request))
            return Problems.Result(ErrorCodes.Unauthenticated, "Not signed in to the console.", status: StatusCodes.Status401Unauthorized);
        var session = await ConsoleSession.CurrentAsync(http, tokenClient, clock);
        if (session.Unavailable)
        {
            http.Response.Headers.RetryAfter = "5";
            return Problems.Result(ErrorCodes.Unavailable, "The session's token could not be renewed just now; try again shortly.", status: StatusCodes.Status503ServiceUnavailable);
        }
        if (session is not { User: { } user, Tokens: { } tokens })
            return Problems.Result(ErrorCodes.Unauthenticated, "Not signed in to the console.", status: StatusCodes.Status401Unauthorized);
        var audience = user.FindAll("aud").Select(c => c.Value).FirstOrDefault(Audiences.IsKnown) ?? Audiences.Tenant;
        http.Response.Headers.CacheControl = "no-store";
        return Results.Ok(new ConsoleSessionView(
            user.FindFirst(TokenClaims.Subject)?.Value ?? "",
            audience,
            user.FindFirst(TokenClaims.TenantId)?.Value,
            [.. user.FindAll(TokenClaims.Role).Select(c => c.Value)],
            [.. TokenClaims.ScopesIn(user.FindAll(TokenClaims.Scope).Select(c => c.Value))],
            "/api/v1/" + audience,
            tokens.ExpiresAt));
    }

    private static Uri CallbackUri(Uri issuer) => new(issuer, FirstPartyClients.ConsoleCallbackPath);

    private static CookieOptions SignInCookieOptions(HttpContext http, Uri issuer) => new()
    {
        HttpOnly = true,
        // Lax: the cookie must come back with the redirect from the sign-in page, a navigation.
        SameSite = SameSiteMode.Lax,
        Secure = http.Request.IsHttps || issuer.Scheme == Uri.UriSchemeHttps,
        Path = ConsolePaths.Root,
        MaxAge = SignInLifetime,
    };

    private sealed record SignInState(string State, string Verifier);
}

/// <summary>The console's session as its scripts see it.</summary>
public sealed record ConsoleSessionView(string User, string Audience, string? TenantId, IReadOnlyList<string> Roles, IReadOnlyList<string> Scopes, string Api,
    DateTimeOffset ExpiresAt);
