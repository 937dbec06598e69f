using OpenHvx.Tests.Support;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using OpenHvx.Cli;
using OpenHvx.Cli.Auth;

namespace OpenHvx.Tests.Cli;

/// <summary>
/// <c>openhvx login|logout</c> and the stored login: owner-only files, the environment's override, refresh. The password and device
/// logins and refresh use the public client <c>openhvx-cli</c>, the device endpoint and <c>resource</c> of the gateway.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class CliLoginTests : CliFixture
{
    [GeneratedRegex(@"confirm the code (?<code>\S+)")]
    private static partial Regex UserCode();

    [GeneratedRegex(@"open (?<uri>https?://\S+)")]
    private static partial Regex VerificationUri();

    private CredentialStore Store => new(ConfigFolder);

    /// <summary>The environment of a user signed in with the stored login only.</summary>
    private Dictionary<string, string?> StoredLogin() => new() { [CliEnvironment.ConfigDir] = ConfigFolder };

    [SetUp]
    public void SignOut() => Store.Delete();

    private async Task<CliResult> PasswordLoginAsync(string username, string password, string audience)
        => await RunAsync(StoredLogin(), ["login", "--url", DevHost.Url, "--password", "--username", username, "--audience", audience], password + "\n");

    private async Task SignInAsync(string username, string password, string audience)
    {
        var login = await PasswordLoginAsync(username, password, audience);
        Assert.That(login.ExitCode, Is.EqualTo(0), login.ToString());
    }

    [Test]
    public void Credentials_are_written_owner_only_in_an_owner_only_folder()
    {
        var folder = Path.Combine(ConfigFolder, "fresh-" + Guid.NewGuid().ToString("N")[..6]);
        var store = new CredentialStore(folder);

        store.Save(new Credentials("http://gateway", "http://gateway/connect/token", "access", "refresh", DateTimeOffset.UtcNow));

        Assert.That(File.GetUnixFileMode(store.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(File.GetUnixFileMode(folder), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        File.SetUnixFileMode(store.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        store.Save(new Credentials("http://gateway", "http://gateway/connect/token", "access-2", "refresh-2", DateTimeOffset.UtcNow));
        Assert.That(File.GetUnixFileMode(store.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "a file others could read is narrowed before tokens go in");
        Assert.That(store.Load()!.RefreshToken, Is.EqualTo("refresh-2"));
    }

    [Test]
    public async Task OPENHVX_URL_and_OPENHVX_TOKEN_override_the_stored_login()
    {
        var nowhere = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
        Store.Save(new Credentials(nowhere, nowhere + "/connect/token", "stale", null, DateTimeOffset.UtcNow.AddHours(1)));

        var stored = await RunAsync(StoredLogin(), ["task", "list"]);
        var overridden = await RunAsync(Environment(AdminToken), ["task", "list", "-o", "json"]);

        Assert.That(stored.ExitCode, Is.EqualTo(6), "the stored login's gateway is unreachable: " + stored);
        Assert.That(overridden.ExitCode, Is.EqualTo(0), overridden.ToString());
        Assert.That(overridden.Json().GetProperty("items").ValueKind, Is.EqualTo(JsonValueKind.Array));
    }

    [Test]
    public async Task Logout_removes_the_stored_login_and_commands_then_exit_3()
    {
        Store.Save(new Credentials(DevHost.Url, DevHost.Url + "/connect/token", AdminToken, null, DateTimeOffset.UtcNow.AddHours(1)));
        var before = await RunAsync(StoredLogin(), ["tenant", "list"]);

        var logout = await RunAsync(StoredLogin(), ["logout"]);
        var after = await RunAsync(StoredLogin(), ["tenant", "list"]);

        Assert.That(before.ExitCode, Is.EqualTo(0), before.ToString());
        Assert.That(logout.ExitCode, Is.EqualTo(0), logout.ToString());
        Assert.That(File.Exists(Store.Path), Is.False);
        Assert.That(after.ExitCode, Is.EqualTo(3), after.ToString());
        Assert.That(after.Error, Does.Contain("Not signed in").And.Contain("openhvx login"));
    }

    [Test]
    public async Task A_password_login_stores_the_tokens_owner_only_and_later_commands_use_them()
    {
        var login = await PasswordLoginAsync("admin", Tokens.AdminPassword, "admin");

        Assert.That(login.ExitCode, Is.EqualTo(0), login.ToString());
        Assert.That(File.GetUnixFileMode(Store.Path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(Store.Load()!.RefreshToken, Is.Not.Null);
        var tenants = await RunAsync(StoredLogin(), ["tenant", "list", "-o", "json"]);
        Assert.That(tenants.ExitCode, Is.EqualTo(0), tenants.ToString());
    }

    [Test]
    public async Task An_expired_stored_access_token_is_refreshed_and_the_new_refresh_token_kept()
    {
        var tenantId = await TenantAsync();
        var (username, _) = await TenantUserAsync(tenantId);
        await SignInAsync(username, username + "-password-1", "tenant");
        var signedIn = Store.Load()!;
        Store.Save(signedIn with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) });

        var run = await RunAsync(StoredLogin(), ["quota", "get", "-o", "json"]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var renewed = Store.Load()!;
        Assert.That(renewed.RefreshToken, Is.Not.EqualTo(signedIn.RefreshToken), "refresh tokens rotate: the new one is stored");
        Assert.That(renewed.ExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow));
    }

    [Test]
    public async Task Commands_renewing_an_expired_login_at_the_same_time_all_succeed_and_the_login_survives()
    {
        await SignInAsync("admin", Tokens.AdminPassword, "admin");
        var signedIn = Store.Load()!;
        Store.Save(signedIn with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) });

        // Each would present the same refresh token; a replayed one ends the whole grant at the token service.
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RunAsync(StoredLogin(), ["agent", "list", "-o", "json"])));

        Assert.That(runs.Select(r => r.ExitCode), Is.All.EqualTo(0), string.Join("\n", runs.Select(r => r.ToString())));
        var later = await RunAsync(StoredLogin(), ["agent", "list"]);
        Assert.That(later.ExitCode, Is.EqualTo(0), later.ToString());
        Assert.That(Store.Load()!.RefreshToken, Is.Not.EqualTo(signedIn.RefreshToken));
    }

    [Test]
    public async Task Logout_revokes_the_login_at_the_gateway_so_a_copy_of_its_refresh_token_is_refused()
    {
        await SignInAsync("admin", Tokens.AdminPassword, "admin");
        var copy = Store.Load()!.RefreshToken!;

        var logout = await RunAsync(StoredLogin(), ["logout"]);

        Assert.That(logout.ExitCode, Is.EqualTo(0), logout.ToString());
        using var http = new HttpClient();
        using var refresh = await http.PostAsync(DevHost.Url + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = copy, ["client_id"] = OpenHvx.Contracts.FirstPartyClients.Cli,
        }));
        var body = await refresh.Content.ReadAsStringAsync();
        Assert.That(refresh.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.BadRequest), body);
        Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"));
    }

    [Test]
    public async Task A_login_uses_the_gateway_it_was_given_whatever_host_the_discovery_document_names()
    {
        // The discovery document names the issuer's host (127.0.0.1 here): the password goes to the address the user typed, and the
        // resource asked for is still the issuer's.
        var typed = DevHost.Url.Replace("127.0.0.1", "localhost");
        Assert.That(typed, Is.Not.EqualTo(DevHost.Url));
        var login = await RunAsync(StoredLogin(), ["login", "--url", typed, "--password", "--username", "admin", "--audience", "admin"], Tokens.AdminPassword + "\n");

        Assert.That(login.ExitCode, Is.EqualTo(0), login.ToString());
        Assert.That(new Uri(Store.Load()!.TokenEndpoint).Authority, Is.EqualTo(new Uri(typed).Authority));
        Assert.That(OAuthClient.Rebase(new Uri("http://gw.example:8080"), "http://localhost:8080/connect/token?x=1"),
            Is.EqualTo("http://gw.example:8080/connect/token?x=1"));
    }

    [Test]
    public async Task A_401_renews_the_stored_login_once_and_the_command_goes_through()
    {
        await SignInAsync("admin", Tokens.AdminPassword, "admin");
        var signedIn = Store.Load()!;
        Store.Save(signedIn with { AccessToken = AdminToken[..^4] + "AAAA" });

        var run = await RunAsync(StoredLogin(), ["agent", "list"]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(Store.Load()!.AccessToken, Is.Not.EqualTo(signedIn.AccessToken));
    }

    [Test]
    public async Task A_device_login_completes_once_the_user_approves_the_code_over_HTTP()
    {
        var error = new StringWriter();
        var shared = TextWriter.Synchronized(error);
        var login = CliApp.RunAsync(["login", "--url", DevHost.Url, "--audience", "admin"],
            new CliIo(TextWriter.Synchronized(new StringWriter()), shared, new StringReader("")), new CliEnvironment(StoredLogin().AsReadOnly()));

        var shown = await Eventually.Get(() => { lock (shared) return Task.FromResult(error.ToString()); },
            text => UserCode().IsMatch(text) || login.IsCompleted, TimeSpan.FromSeconds(30), "the CLI shows the code to confirm");
        Assert.That(login.IsCompleted, Is.False, "the login waits for the approval: " + shown);
        await ApproveAsync(VerificationUri().Match(shown).Groups["uri"].Value, UserCode().Match(shown).Groups["code"].Value);

        Assert.That(await login.WaitAsync(TimeSpan.FromSeconds(60)), Is.EqualTo(0), error.ToString());
        Assert.That(Store.Load()!.AccessToken, Is.Not.Empty);
        Assert.That((await RunAsync(StoredLogin(), ["agent", "list"])).ExitCode, Is.EqualTo(0));
    }

    /// <summary>The user's side of RFC 8628: the verification page's form, filled with the code and the admin's credentials.</summary>
    private static async Task ApproveAsync(string verificationUri, string userCode)
    {
        var uri = new Uri(verificationUri);
        using var browser = new SignInBrowser(uri.GetLeftPart(UriPartial.Authority));
        var page = await browser.GetFormAsync(uri.PathAndQuery);
        using var approved = await browser.PostFormAsync(uri.AbsolutePath, page, new() { ["user_code"] = userCode, ["username"] = "admin", ["password"] = Tokens.AdminPassword });
        Assert.That(approved.IsSuccessStatusCode, await approved.Content.ReadAsStringAsync());
    }
}
