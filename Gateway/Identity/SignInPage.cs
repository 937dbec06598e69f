using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The gateway's only HTML: a sign-in form (with the user code for the device flow), rendered on the server. No script; the
/// one inline style is allowed by its hash; the form posts to this page only, and the browser may follow the answer to
/// <paramref name="RedirectOrigin"/> only (the client's registered redirect URI, already checked by OpenIddict).
/// </summary>
public sealed record SignInPage(string Title, string Action, IReadOnlyList<KeyValuePair<string, string>> Hidden, bool AsksUserCode, string? UserCode,
    string? Username, string? Error, string? RedirectOrigin = null)
{
    private const string Style =
        "body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}label{display:block;margin-top:1rem}"
        + "input{width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:1.5rem;padding:.5rem 1rem}.error{color:#a00}";

    private static readonly string StyleHash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Style)));

    public const string UsernameField = "username";
    public const string PasswordField = "password";
    public const string UserCodeField = "user_code";

    /// <summary>A page that says <paramref name="message"/> and asks nothing.</summary>
    public static IResult Message(HttpContext http, string title, string message, int status) => Write(http, title, $"<p>{Encode(message)}</p>", status, null);

    public IResult Render(HttpContext http, IAntiforgery antiforgery, int status = StatusCodes.Status200OK)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        var body = new StringBuilder();
        if (Error is not null)
            body.Append($"<p class=\"error\" role=\"alert\">{Encode(Error)}</p>");
        body.Append($"<form method=\"post\" action=\"{Encode(Action)}\">");
        body.Append($"<input type=\"hidden\" name=\"{Encode(tokens.FormFieldName)}\" value=\"{Encode(tokens.RequestToken!)}\">");
        foreach (var (name, value) in Hidden)
            body.Append($"<input type=\"hidden\" name=\"{Encode(name)}\" value=\"{Encode(value)}\">");
        if (AsksUserCode)
            body.Append($"<label for=\"user_code\">Code shown by your device</label><input id=\"user_code\" name=\"{UserCodeField}\" value=\"{Encode(UserCode ?? "")}\" required autocomplete=\"off\" autocapitalize=\"characters\">");
        body.Append($"<label for=\"username\">Username</label><input id=\"username\" name=\"{UsernameField}\" value=\"{Encode(Username ?? "")}\" required autocomplete=\"username\">");
        body.Append($"<label for=\"password\">Password</label><input id=\"password\" name=\"{PasswordField}\" type=\"password\" required autocomplete=\"current-password\">");
        body.Append("<button type=\"submit\">Sign in</button></form>");
        return Write(http, Title, body.ToString(), status, RedirectOrigin);
    }

    private static IResult Write(HttpContext http, string title, string body, int status, string? redirectOrigin)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = $"default-src 'none'; style-src 'sha256-{StyleHash}'; form-action 'self'{(redirectOrigin is null ? "" : " " + redirectOrigin)}; frame-ancestors 'none'; base-uri 'none'";
        headers.CacheControl = "no-store";
        headers.Pragma = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        var html = $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{Encode(title)}</title>"
            + $"<style>{Style}</style></head><body><h1>{Encode(title)}</h1>{body}</body></html>";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static string Encode(string value) => WebUtility.HtmlEncode(value);
}
