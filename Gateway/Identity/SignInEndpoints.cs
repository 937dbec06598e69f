using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenHvx.ServiceDefaults;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Where a person signs in for a client: the authorization endpoint (authorization code with PKCE; the code goes to the
/// client's redirect URI) and the device flow's verification page (the user code, then the device polls the token endpoint).
/// OpenIddict has checked the protocol (client, redirect URI, PKCE, user code) before these run. The password is checked as
/// for the password grant (<see cref="SignInGuard"/>, <see cref="UserPasswords"/>) and the token's claims follow the same
/// rules (<see cref="AccessGrant"/>).
/// </summary>
public static class SignInEndpoints
{
    private static readonly HashSet<string> FormOnlyFields = [SignInPage.UsernameField, SignInPage.PasswordField];

    public static IEndpointRouteBuilder MapSignInEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods(TokenServicePaths.Authorize, [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync)
            .RequireRateLimiting(GatewayRateLimits.TokenPolicy).ExcludeFromDescription();
        app.MapMethods(TokenServicePaths.Verify, [HttpMethods.Get, HttpMethods.Post], VerifyAsync)
            .RequireRateLimiting(GatewayRateLimits.TokenPolicy).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, IAntiforgery antiforgery, IOptions<AntiforgeryOptions> antiforgeryOptions, GatewayDbContext db,
        UserPasswords passwords, SignInGuard guard, TokenAudience audiences, IOptions<GatewayOptions> options, TimeProvider clock)
    {
        var startedAt = clock.GetUtcNow();
        if (http.GetOpenIddictServerRequest() is not { } request)
            return Problems.Result(ErrorCodes.BadRequest, "Not an authorization request.");
        var (requested, malformed) = audiences.Of(request, http);
        if (malformed is not null)
            return TokenEndpoint.Refuse(malformed);

        var isPost = HttpMethods.IsPost(http.Request.Method);
        var fields = isPost ? (IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>>)await http.Request.ReadFormAsync(http.RequestAborted) : http.Request.Query;
        // The authorization request travels in the form, so that the page needs no session: every parameter but the credentials.
        var hidden = fields.Where(f => !FormOnlyFields.Contains(f.Key) && f.Key != antiforgeryOptions.Value.FormFieldName)
            .SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? ""))).ToList();
        // The browser follows the answer to the sign-in to the client: the CSP's form-action must allow the redirect URI OpenIddict checked.
        var redirectOrigin = Uri.TryCreate(request.RedirectUri, UriKind.Absolute, out var redirect) ? redirect.GetLeftPart(UriPartial.Authority) : null;
        var page = new SignInPage("Sign in to OpenHvx", TokenServicePaths.Authorize, hidden, AsksUserCode: false, UserCode: null,
            Username: isPost ? request.Username : null, Error: null, RedirectOrigin: redirectOrigin);
        if (!isPost)
            return page.Render(http, antiforgery);
        if (await FormRefusalAsync(http, antiforgery, guard, request.Username, page) is { } refusal)
            return refusal;

        var user = await TokenEndpoint.SignInAsync(db, passwords, guard, request.Username, request.Password, http);
        if (user is null)
            return (page with { Error = "The username or password is wrong." }).Render(http, antiforgery, StatusCodes.Status400BadRequest);
        var subject = Subject.Of(user);
        var (audience, mismatch) = TokenAudience.For(subject, requested);
        if (mismatch is not null)
            return TokenEndpoint.Refuse(mismatch);
        var (principal, denied) = AccessGrant.For(subject, audience, request.GetScopes(), narrowedTo: null, offline: true, options.Value);
        if (denied is not null)
            return TokenEndpoint.Refuse(denied);
        // OpenIddict answers with the redirect to the client (the code, or an error).
        return await TokenEndpoint.IssueAsync(http, principal!, subject, startedAt, db, clock, issued: () => Results.Empty)
            ?? TokenEndpoint.Refuse(TokenEndpoint.AccountChanged);
    }

    private static async Task<IResult> VerifyAsync(HttpContext http, IAntiforgery antiforgery, GatewayDbContext db, UserPasswords passwords, SignInGuard guard,
        TokenAudience audiences, IOptions<GatewayOptions> options, TimeProvider clock)
    {
        const string title = "Sign in a device to OpenHvx";
        var startedAt = clock.GetUtcNow();
        var request = http.GetOpenIddictServerRequest();
        var isPost = HttpMethods.IsPost(http.Request.Method);
        var page = new SignInPage(title, TokenServicePaths.Verify, [], AsksUserCode: true, UserCode: request?.UserCode,
            Username: isPost ? request?.Username : null, Error: null);
        if (!isPost || request is null)
            return page.Render(http, antiforgery);
        if (await FormRefusalAsync(http, antiforgery, guard, request.Username, page) is { } refusal)
            return refusal;

        // The user code's grant, as the device asked for it; no principal when the code is unknown, expired or used.
        var authenticated = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        var code = authenticated.Succeeded ? authenticated.Principal : null;
        if (code is null || string.IsNullOrEmpty(code.GetClaim(OpenIddictConstants.Claims.Private.DeviceCodeId)))
            return (page with { Error = "This code is unknown or has expired: start again on your device." }).Render(http, antiforgery, StatusCodes.Status400BadRequest);
        var user = await TokenEndpoint.SignInAsync(db, passwords, guard, request.Username, request.Password, http);
        if (user is null)
            return (page with { Error = "The username or password is wrong." }).Render(http, antiforgery, StatusCodes.Status400BadRequest);

        var subject = Subject.Of(user);
        var scopes = code.GetScopes();
        var (audience, mismatch) = TokenAudience.For(subject, audiences.Of(scopes, http).Audience);
        var (principal, denied) = mismatch is not null ? (null, mismatch) : AccessGrant.For(subject, audience, scopes, narrowedTo: null, offline: true, options.Value);
        if (denied is not null)
            return (page with { Error = denied.Description }).Render(http, antiforgery, StatusCodes.Status400BadRequest);
        return await TokenEndpoint.IssueAsync(http, principal!, subject, startedAt, db, clock,
                issued: () => SignInPage.Message(http, title, "Your device is signed in. You can close this page.", StatusCodes.Status200OK))
            ?? (page with { Error = TokenEndpoint.AccountChanged.Description }).Render(http, antiforgery, StatusCodes.Status400BadRequest);
    }

    /// <summary>A posted form without a valid antiforgery token, or from an address the sign-in guard holds back, is answered here.</summary>
    private static async Task<IResult?> FormRefusalAsync(HttpContext http, IAntiforgery antiforgery, SignInGuard guard, string? username, SignInPage page)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
            return (page with { Error = "The form has expired; please sign in again." }).Render(http, antiforgery, StatusCodes.Status400BadRequest);
        if (guard.Check(username ?? "", http.Connection.RemoteIpAddress) is { Allowed: false } held)
        {
            TokenEndpoint.SetRetryAfter(http, held.RetryAfter);
            return (page with { Error = "Too many failed sign-ins from this address; try again later." }).Render(http, antiforgery, StatusCodes.Status429TooManyRequests);
        }
        return null;
    }
}
