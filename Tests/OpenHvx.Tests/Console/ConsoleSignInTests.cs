using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using OpenHvx.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace OpenHvx.Tests.Console;

/// <summary>Signing in to the console: authorization code with PKCE through the token service, the tokens kept by the gateway.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ConsoleSignInTests : ConsoleFixture
{
    [Test]
    public async Task An_admin_signs_in_and_sees_every_section_and_no_token_is_readable_by_scripts_or_in_a_url()
    {
        var visited = new List<string>();
        var page = await OpenConsoleAsync();
        // Every request the page makes, redirects included (the callback's URL carries the code, never a token).
        page.Request += (_, request) => visited.Add(request.Url);
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByLabel("Username").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync(Tokens.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        var nav = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" });
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Agents" })).ToBeVisibleAsync();
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Tenants" })).ToBeVisibleAsync();
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Quota" })).ToBeHiddenAsync();
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("admin");

        // The session's tokens stay in an HttpOnly cookie: nothing a script can read, nothing in a visited URL.
        var cookies = await page.Context.CookiesAsync();
        // The cookie may be cut into chunks (openhvx-console, openhvx-consoleC1, ...): each is HttpOnly and SameSite=Strict.
        var session = cookies.Where(c => c.Name.StartsWith("openhvx-console", StringComparison.Ordinal)).ToList();
        Assert.That(session, Is.Not.Empty);
        Assert.That(session, Has.All.Matches<BrowserContextCookiesResult>(c => c.HttpOnly && c.SameSite == SameSiteAttribute.Strict),
            string.Join(", ", cookies.Select(c => $"{c.Name} httpOnly={c.HttpOnly} sameSite={c.SameSite}")));
        var readable = await page.EvaluateAsync<string>("() => document.cookie + JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage))");
        Assert.That(readable, Does.Not.Contain("eyJ"), "no JWT readable by scripts");
        Assert.That(readable, Does.Not.Contain("openhvx-console"));
        Assert.That(visited, Has.Some.Contains("/console/callback?code="), "the redirects were seen: " + string.Join("\n", visited));
        Assert.That(visited, Has.None.Contains("access_token").And.None.Contains("refresh_token").And.None.Contains("eyJ"), string.Join("\n", visited));
    }

    [Test]
    public async Task A_wrong_password_keeps_the_user_on_the_sign_in_page_with_an_error()
    {
        var page = await OpenConsoleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByLabel("Username").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync("not-the-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByText("The username or password is wrong.")).ToBeVisibleAsync();
        Assert.That(await page.Context.CookiesAsync(), Has.None.Matches<BrowserContextCookiesResult>(c => c.Name == "openhvx-console"));
    }

    [Test]
    public async Task Console_answers_carry_a_content_security_policy_without_inline_scripts()
    {
        using var http = new HttpClient();
        using var answer = await http.GetAsync(DevHost.Url + "/console/");
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var csp = answer.Headers.GetValues("Content-Security-Policy").Single();
        Assert.That(csp, Does.Contain("script-src 'self'").And.Not.Contain("unsafe-inline").And.Contain("frame-ancestors 'none'"));
        Assert.That(answer.Headers.GetValues("X-Content-Type-Options").Single(), Is.EqualTo("nosniff"));
    }

    [Test]
    public async Task The_session_cookie_turns_into_a_token_only_for_requests_that_carry_the_console_header()
    {
        var page = await SignInAsAdminAsync();
        var withHeader = await page.EvaluateAsync<int>("async () => (await fetch('/api/v1/admin/agents', { headers: { 'X-OpenHvx-Console': '1' } })).status");
        var withoutHeader = await page.EvaluateAsync<int>("async () => (await fetch('/api/v1/admin/agents')).status");
        Assert.Multiple(() =>
        {
            Assert.That(withHeader, Is.EqualTo(200));
            Assert.That(withoutHeader, Is.EqualTo(401), "a form or link of another site (no header) gets no token from the cookie");
        });
    }

    [Test]
    public async Task Signing_out_revokes_the_grant_and_the_console_asks_to_sign_in_again()
    {
        var page = await SignInAsAdminAsync();
        var cookie = string.Join("; ", (await page.Context.CookiesAsync()).Where(c => c.Name.StartsWith("openhvx-console", StringComparison.Ordinal)).Select(c => $"{c.Name}={c.Value}"));
        using var handler = new HttpClientHandler { UseCookies = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(DevHost.Url) };
        async Task<HttpStatusCode> CallWithCopiedCookieAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/agents");
            request.Headers.Add("Cookie", cookie);
            request.Headers.Add("X-OpenHvx-Console", "1");
            using var answer = await http.SendAsync(request);
            return answer.StatusCode;
        }
        Assert.That(await CallWithCopiedCookieAsync(), Is.EqualTo(HttpStatusCode.OK), "the copied cookie works before the sign-out");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Sign in" })).ToBeVisibleAsync();

        // A copy of the old cookie is refused too: its refresh token was revoked, and the access token is refused once the gateway knows.
        await Eventually.True(async () => await CallWithCopiedCookieAsync() == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15),
            "the signed-out session's cookie is refused");
    }

    [Test]
    public async Task Leaving_the_task_list_closes_its_event_stream()
    {
        var page = await SignInAsAdminAsync();
        // The landing view is the task list too: leave it first, so the stream caught below is the one opened by this navigation.
        await GoToAsync(page, "#/agents");
        var stream = await page.RunAndWaitForRequestAsync(() => GoToAsync(page, "#/tasks"), r => r.Url.EndsWith("/api/v1/admin/events", StringComparison.Ordinal));
        var ended = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        page.RequestFailed += (_, r) => { if (r == stream) ended.TrySetResult("failed: " + r.Failure); };
        page.RequestFinished += (_, r) => { if (r == stream) ended.TrySetResult("finished"); };
        Assert.That(ended.Task.IsCompleted, Is.False, "the stream is open while the list shows");
        await GoToAsync(page, "#/agents");
        var how = await ended.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(how, Does.Contain("ABORTED").IgnoreCase, "the stream was aborted by the view's cleanup");
    }
}
