using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Console;

/// <summary>
/// The console's session at the HTTP level: the authorization code flow the gateway runs for it, the cookie that holds its tokens,
/// and their renewal. Admin access tokens live 30 s here, so every API call of the console renews the session's token first.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class ConsoleSessionTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Gateway:AdminTokenLifetime"] = "00:00:30" };

    internal sealed class ConsoleVisitor : IDisposable
    {
        public CookieContainer Cookies { get; } = new();
        public HttpClient Http { get; }

        public ConsoleVisitor(string url)
            => Http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = new Uri(url) };

        public Task<HttpResponseMessage> ApiAsync(string path, bool consoleHeader = true)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (consoleHeader)
                request.Headers.Add("X-OpenHvx-Console", "1");
            return Http.SendAsync(request);
        }

        public void Dispose() => Http.Dispose();
    }

    private Task<(ConsoleVisitor Visitor, HttpResponseMessage Callback)> SignInAsync(string username, string password, Func<string, string>? tamperCallback = null)
        => SignInAsync(DevHost.Url, username, password, tamperCallback);

    /// <summary>The console's sign-in as a browser runs it, up to the callback's answer (not followed).</summary>
    internal static async Task<(ConsoleVisitor Visitor, HttpResponseMessage Callback)> SignInAsync(string url, string username, string password,
        Func<string, string>? tamperCallback = null)
    {
        var visitor = new ConsoleVisitor(url);
        using var start = await visitor.Http.GetAsync("/console/signin");
        Assert.That(start.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var authorize = start.Headers.Location!;
        Assert.That(authorize.AbsolutePath, Is.EqualTo("/connect/authorize"));
        Assert.That(authorize.Query, Does.Contain("code_challenge_method=S256").And.Contain("client_id=openhvx-console"));

        using var page = await visitor.Http.GetAsync(authorize);
        var html = await page.Content.ReadAsStringAsync();
        var hidden = SignInBrowser.HiddenFields(html);
        using var posted = await visitor.Http.PostAsync(authorize.AbsolutePath,
            new FormUrlEncodedContent([.. hidden, new("username", username), new("password", password)]));
        Assert.That(posted.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await posted.Content.ReadAsStringAsync());
        var callback = posted.Headers.Location!.ToString();
        Assert.That(callback, Does.Contain("/console/callback?").And.Contain("code="));
        return (visitor, await visitor.Http.GetAsync(tamperCallback?.Invoke(callback) ?? callback));
    }

    [Test]
    public async Task The_callback_signs_in_and_the_session_names_the_user_and_its_api_but_never_a_token()
    {
        var (visitor, callback) = await SignInAsync("admin", Tokens.AdminPassword);
        using var _ = visitor;
        Assert.That(callback.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(callback.Headers.Location!.ToString(), Is.EqualTo("/console/"));

        using var session = await visitor.ApiAsync("/console/session");
        var text = await session.Content.ReadAsStringAsync();
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("user").GetString(), Is.EqualTo("admin"));
            Assert.That(body.GetProperty("api").GetString(), Is.EqualTo("/api/v1/admin"));
            Assert.That(text, Does.Not.Contain("eyJ"), "no token in the session's answer");
        });
    }

    [Test]
    public async Task A_callback_whose_state_is_not_the_one_issued_signs_nobody_in()
    {
        var (visitor, callback) = await SignInAsync("admin", Tokens.AdminPassword, url => Regex.Replace(url, "state=[^&]*", "state=forged"));
        using var _ = visitor;
        Assert.That(callback.Headers.Location?.ToString(), Is.EqualTo("/console/signin"));
        using var session = await visitor.ApiAsync("/console/session");
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task A_refused_sign_in_returns_to_the_console_start_page_without_a_session()
    {
        var (visitor, callback) = await SignInAsync("admin", Tokens.AdminPassword, url => Regex.Replace(url, "code=[^&]*", "error=access_denied"));
        using var _ = visitor;
        Assert.That(callback.Headers.Location?.ToString(), Is.EqualTo("/console/?signin=refused"));
        using var session = await visitor.ApiAsync("/console/session");
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task A_code_the_token_service_refuses_returns_to_the_console_start_page_without_a_session()
    {
        var (visitor, callback) = await SignInAsync("admin", Tokens.AdminPassword, url => Regex.Replace(url, "code=[^&]*", "code=not-a-code"));
        using var _ = visitor;
        Assert.That(callback.Headers.Location?.ToString(), Is.EqualTo("/console/?signin=failed"));
        using var session = await visitor.ApiAsync("/console/session");
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Signing_in_on_another_host_name_starts_at_the_issuer_so_that_the_callback_finds_its_cookie()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, DevHost.Url + "/console/signin");
        request.Headers.Host = "console.example.test";
        using var answer = await http.SendAsync(request);
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(answer.Headers.Location!.ToString(), Is.EqualTo(DevHost.Url + "/console/signin?moved=1"));
        Assert.That(answer.Headers.Contains("Set-Cookie"), Is.False);

        // Once only: behind a proxy that does not pass the host on, the moved request still names another host, and signs in there.
        using var moved = new HttpRequestMessage(HttpMethod.Get, DevHost.Url + "/console/signin?moved=1");
        moved.Headers.Host = "console.example.test";
        using var second = await http.SendAsync(moved);
        Assert.That(second.Headers.Location!.AbsolutePath, Is.EqualTo("/connect/authorize"));
        Assert.That(second.Headers.GetValues("Set-Cookie").Single(), Does.StartWith("openhvx-console-signin="));
    }

    [Test]
    public void With_an_https_issuer_the_session_cookie_is_always_secure_even_when_tls_ends_at_a_proxy()
    {
        static CookieSecurePolicy PolicyFor(string? issuer)
        {
            var services = new ServiceCollection();
            OpenHvx.Gateway.WebConsole.ConsoleEndpoints.AddWebConsole(services, new OpenHvx.Gateway.GatewayOptions { Issuer = issuer });
            using var provider = services.BuildServiceProvider();
            return provider.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get("console").Cookie.SecurePolicy;
        }
        Assert.Multiple(() =>
        {
            Assert.That(PolicyFor("https://hvx.example.com/"), Is.EqualTo(CookieSecurePolicy.Always));
            Assert.That(PolicyFor(null), Is.EqualTo(CookieSecurePolicy.SameAsRequest));
        });
    }

    [Test]
    public async Task Parallel_calls_with_an_expiring_token_share_one_renewal_and_the_session_goes_on()
    {
        var (visitor, _) = await SignInAsync("admin", Tokens.AdminPassword);
        using var __ = visitor;
        var before = visitor.Cookies.GetAllCookies().Where(c => c.Name.StartsWith("openhvx-console", StringComparison.Ordinal)).Select(c => c.Value).ToList();

        // The token lives 30 s, less than the minute before expiry at which the gateway renews it: each call renews. Eight at once
        // present the same refresh token, which works once; a second renewal of it would end the grant.
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => visitor.ApiAsync("/api/v1/admin/agents")));
        Assert.That(answers.Select(a => a.StatusCode), Has.All.EqualTo(HttpStatusCode.OK));
        var after = visitor.Cookies.GetAllCookies().Where(c => c.Name.StartsWith("openhvx-console", StringComparison.Ordinal)).Select(c => c.Value).ToList();
        Assert.That(after, Is.Not.EqualTo(before), "the renewed tokens were written back to the cookie");

        for (var i = 0; i < 3; i++)
        {
            using var next = await visitor.ApiAsync("/api/v1/admin/tenants");
            Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"call {i} after the shared renewal: {await next.Content.ReadAsStringAsync()}");
        }
    }

    [Test]
    public async Task A_tenant_user_session_uses_the_tenant_api_and_gets_nothing_from_the_admin_api()
    {
        using var admin = await Tokens.AdminClientAsync(DevHost.Url);
        var created = await admin.PostAsJsonAsync("/api/v1/admin/users", new { username = "console-reader", password = "console-reader-password-1", tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(created.IsSuccessStatusCode, Is.True, await created.Content.ReadAsStringAsync());

        var (visitor, _) = await SignInAsync("console-reader", "console-reader-password-1");
        using var __ = visitor;
        using var session = await visitor.ApiAsync("/console/session");
        var body = await session.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(body.GetProperty("api").GetString(), Is.EqualTo("/api/v1/tenant"));
        Assert.That(body.GetProperty("tenantId").GetString(), Is.EqualTo("test1"));

        using var own = await visitor.ApiAsync("/api/v1/tenant/tasks");
        using var adminApi = await visitor.ApiAsync("/api/v1/admin/tasks");
        Assert.Multiple(() =>
        {
            Assert.That(own.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(adminApi.StatusCode, Is.AnyOf(HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden));
        });
    }

}
