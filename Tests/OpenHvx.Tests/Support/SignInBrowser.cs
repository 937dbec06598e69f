using System.Net;
using System.Text.RegularExpressions;

namespace OpenHvx.Tests.Support;

/// <summary>
/// What a browser does with the gateway's sign-in pages: keeps cookies (the antiforgery one), reads a page's form, and posts it
/// back with the fields a person fills in. Redirects are not followed: the last one goes to the client (a loopback callback).
/// </summary>
public sealed partial class SignInBrowser : IDisposable
{
    private readonly HttpClient _http;

    public SignInBrowser(string baseUrl)
        => _http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(baseUrl) };

    public sealed record Form(HttpResponseMessage Response, string Html, IReadOnlyList<KeyValuePair<string, string>> Hidden);

    /// <summary>GETs a page and reads its form's hidden fields (the antiforgery token among them).</summary>
    public async Task<Form> GetFormAsync(string pathAndQuery)
    {
        var response = await _http.GetAsync(pathAndQuery);
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), html);
        return new Form(response, html, HiddenFields(html));
    }

    /// <summary>The hidden fields of a sign-in page's form (the authorization request, the antiforgery token).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> HiddenFields(string html)
        => [.. HiddenInput().Matches(html)
            .Select(m => new KeyValuePair<string, string>(WebUtility.HtmlDecode(m.Groups["name"].Value), WebUtility.HtmlDecode(m.Groups["value"].Value)))];

    /// <summary>Posts <paramref name="form"/>'s hidden fields with <paramref name="fields"/>, as the browser would.</summary>
    public Task<HttpResponseMessage> PostFormAsync(string path, Form form, Dictionary<string, string> fields)
        => _http.PostAsync(path, new FormUrlEncodedContent([.. form.Hidden.Where(h => !fields.ContainsKey(h.Key)), .. fields]));

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]*)\" value=\"(?<value>[^\"]*)\">")]
    private static partial Regex HiddenInput();
}
