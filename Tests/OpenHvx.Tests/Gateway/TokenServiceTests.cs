using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>POST /connect/token: grants, audiences, refresh rotation and revocation.</summary>
[TestFixture]
[Category("Integration")]
public sealed class TokenServiceTests : DevHostFixture
{
    private async Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form, string? host = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, DevHost.Url + "/connect/token") { Content = new FormUrlEncodedContent(form) };
        if (host is not null)
            request.Headers.Host = host;
        using var http = new HttpClient();
        return await http.SendAsync(request);
    }

    private static Dictionary<string, string> Password(string user, string password, string? audience = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = user, ["password"] = password };
        if (audience is not null)
            form["audience"] = audience;
        return form;
    }

    private static Dictionary<string, string> Refresh(string token) => new() { ["grant_type"] = "refresh_token", ["refresh_token"] = token };

    private static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
    }

    [OneTimeSetUp]
    public async Task CreateUsersAsync()
    {
        foreach (var user in new[] { "t-user", "t-revoked", "t-rotate" })
            Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = user, password = user + "-password-1", tenantId = "test1", roles = new[] { "tenant-user-rw" } })).StatusCode,
                Is.EqualTo(HttpStatusCode.Created));
    }

    [Test]
    public async Task A_password_grant_answers_the_claims_of_api_md()
    {
        var response = await TokenAsync(Password("t-user", "t-user-password-1"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(body.GetProperty("token_type").GetString(), Is.EqualTo("Bearer"));
        Assert.That(body.GetProperty("expires_in").GetInt32(), Is.InRange(8 * 3600 - 60, 8 * 3600), "tenant tokens live 8 h");
        Assert.That(body.TryGetProperty("refresh_token", out _), Is.True);

        var claims = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(body.GetProperty("access_token").GetString()!.Split('.')[1])).RootElement;
        Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo("t-user"));
        Assert.That(claims.GetProperty("aud").GetString(), Is.EqualTo("tenant"));
        Assert.That(claims.GetProperty("tenant_id").GetString(), Is.EqualTo("test1"));
        Assert.That(claims.GetProperty("role").GetString(), Is.EqualTo("tenant-user-rw"));
        Assert.That(claims.GetProperty("scope").GetString()!.Split(' '), Is.SupersetOf(new[] { "openhvx.read", "openhvx.write" }));
        Assert.That(claims.GetProperty("iss").GetString(), Is.Not.Empty);
        Assert.That(claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64(), Is.EqualTo(8 * 3600));
    }

    [Test]
    public async Task Admin_tokens_are_short_lived()
    {
        var body = await (await TokenAsync(Password("admin", Tokens.AdminPassword, "admin"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(body.GetProperty("expires_in").GetInt32(), Is.InRange(30 * 60 - 60, 30 * 60));
    }

    [TestCase("admin", Tokens.AdminPassword, "tenant", null, TestName = "An admin asking for a tenant token is refused")]
    [TestCase("admin", Tokens.AdminPassword, null, "api.example.com", TestName = "An admin on the tenant host is refused")]
    [TestCase("t-user", "t-user-password-1", "admin", null, TestName = "A tenant user asking for an admin token is refused")]
    [TestCase("t-user", "t-user-password-1", null, "api-admin.example.com", TestName = "A tenant user on the admin host is refused")]
    [TestCase("t-user", "wrong-password-1", null, null, TestName = "A wrong password is refused")]
    [TestCase("nobody", "whatever-password", null, null, TestName = "An unknown user is refused like a wrong password")]
    public async Task Token_requests_outside_the_rules_get_invalid_grant(string user, string password, string? audience, string? host)
    {
        Assert.That(await ErrorOf(await TokenAsync(Password(user, password, audience), host)), Is.EqualTo("invalid_grant"));
    }

    [Test]
    public async Task The_host_decides_the_audience_of_a_token()
    {
        var response = await TokenAsync(Password("admin", Tokens.AdminPassword), host: "api-admin.example.com");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_refresh_token_works_once_and_its_successor_works_after_it()
    {
        var first = await (await TokenAsync(Password("t-user", "t-user-password-1"))).Content.ReadFromJsonAsync<JsonElement>();
        var refresh1 = first.GetProperty("refresh_token").GetString()!;

        var second = await TokenAsync(Refresh(refresh1));
        var secondBody = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK), secondBody.ToString());
        var refresh2 = secondBody.GetProperty("refresh_token").GetString()!;
        Assert.That(refresh2, Is.Not.EqualTo(refresh1));
        using (var client = Tokens.Client(DevHost.Url, secondBody.GetProperty("access_token").GetString()!))
            Assert.That((await client.GetAsync("/api/v1/tenant/tasks")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        Assert.That(await ErrorOf(await TokenAsync(Refresh(refresh1))), Is.EqualTo("invalid_grant"), "a used refresh token is refused");
        // Reusing an old refresh token revokes its whole chain (it may have been stolen): the successor goes too.
        Assert.That(await ErrorOf(await TokenAsync(Refresh(refresh2))), Is.EqualTo("invalid_grant"));
    }

    [Test]
    public async Task A_rotated_refresh_token_works_when_the_old_one_is_not_replayed()
    {
        // A user of its own: the replay test revokes t-user's chain, and a revocation covers tokens issued in its second.
        var first = await (await TokenAsync(Password("t-rotate", "t-rotate-password-1"))).Content.ReadFromJsonAsync<JsonElement>();
        var refresh2 = (await (await TokenAsync(Refresh(first.GetProperty("refresh_token").GetString()!))).Content.ReadFromJsonAsync<JsonElement>())
            .GetProperty("refresh_token").GetString()!;
        var third = await TokenAsync(Refresh(refresh2));
        Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.OK), await third.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_refresh_never_widens_the_scope_of_the_grant_it_continues()
    {
        var narrowed = await (await TokenAsync(new Dictionary<string, string>(Password("t-user", "t-user-password-1")) { ["scope"] = "openhvx.read offline_access" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var refreshed = await (await TokenAsync(Refresh(narrowed.GetProperty("refresh_token").GetString()!))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(refreshed.GetProperty("scope").GetString()!.Split(' '), Does.Not.Contain("openhvx.write"), refreshed.ToString());
        using var client = Tokens.Client(DevHost.Url, refreshed.GetProperty("access_token").GetString()!);
        var write = await client.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name = "no", cpu = 1, ram = "1GB" } });
        Assert.That(write.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task A_removed_users_refresh_token_fails()
    {
        var tokens = await (await TokenAsync(Password("t-revoked", "t-revoked-password-1"))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.That((await Client.DeleteAsync("/api/v1/admin/users/t-revoked")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        Assert.That(await ErrorOf(await TokenAsync(Refresh(tokens.GetProperty("refresh_token").GetString()!))), Is.EqualTo("invalid_grant"));
        Assert.That(await ErrorOf(await TokenAsync(Password("t-revoked", "t-revoked-password-1"))), Is.EqualTo("invalid_grant"));
    }

    [Test]
    public async Task Discovery_and_jwks_publish_one_rs256_key()
    {
        using var http = new HttpClient();
        var discovery = await http.GetFromJsonAsync<JsonElement>(DevHost.Url + "/.well-known/openid-configuration");
        Assert.That(discovery.GetProperty("token_endpoint").GetString(), Does.EndWith("/connect/token"));
        var jwks = await http.GetFromJsonAsync<JsonElement>(discovery.GetProperty("jwks_uri").GetString()!);
        var keys = jwks.GetProperty("keys").EnumerateArray().ToList();
        Assert.That(keys.Select(k => k.GetProperty("kty").GetString()), Is.EqualTo(new[] { "RSA" }));
        Assert.That(keys.Any(k => k.TryGetProperty("d", out _)), Is.False, "no private part");
    }

    [Test]
    public async Task User_creation_validates_its_input_and_refuses_duplicates()
    {
        var weak = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = "weak", password = "short", tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(weak.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var noTenant = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = "lost", password = "a-long-password-1", tenantId = "nope", roles = new[] { "tenant-user-r" } });
        Assert.That(noTenant.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), "an unknown tenant");
        var twice = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username = "t-user", password = "a-long-password-1", tenantId = "test1", roles = new[] { "tenant-user-r" } });
        Assert.That(twice.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await twice.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_USER_EXISTS"));
        var malformed = await Client.PostAsync("/api/v1/admin/users", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
        Assert.That(malformed.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await malformed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_BAD_ENVELOPE"));
    }
}

/// <summary>Tokens survive a restart: the signing key is in the identity store, not in memory.</summary>
[TestFixture]
[Category("Integration")]
public sealed class SigningKeyPersistenceTests
{
    [Test]
    public async Task A_token_issued_before_a_restart_still_validates_after_it()
    {
        using var folder = new TempFolder(nameof(SigningKeyPersistenceTests));
        // The issuer as in production: a restarted test DevHost listens on another port, and its default issuer would follow it.
        var settings = new Dictionary<string, string?> { ["Gateway:Issuer"] = "http://localhost:8080/" };
        string token;
        await using (var first = new TestDevHost(folder.Path, settings))
        {
            using var admin = await first.StartAsync();
            token = admin.DefaultRequestHeaders.Authorization!.Parameter!;
        }

        await using var second = new TestDevHost(folder.Path, settings);
        using var unused = await second.StartAsync();
        using var client = Tokens.Client(second.Url, token);
        var response = await client.GetAsync("/api/v1/admin/tenants");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }
}

/// <summary>
/// Per-tenant token buckets: a tenant's burst is cut with 429, another tenant is not slowed. Per address on the token service: the
/// endpoints OpenIddict answers itself (device authorization, revocation, introspection) are limited like <c>/connect/token</c>.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class GatewayRateLimitTests : DevHostFixture
{
    protected override IDictionary<string, string?> Settings
        => new Dictionary<string, string?>(TestDevHost.Bucket("Gateway:RateLimit", 5).Concat(TestDevHost.Bucket("Gateway:TokenRateLimit", 4)));

    [Test]
    public async Task A_burst_over_the_tenants_limit_gets_429_while_another_tenant_is_unaffected()
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = "calm", name = "calm" })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        using var noisy = await Tokens.TenantClientAsync(Client, DevHost.Url, "noisy-user", "test1", "tenant-user-r");
        using var calm = await Tokens.TenantClientAsync(Client, DevHost.Url, "calm-user", "calm", "tenant-user-r");

        var burst = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => noisy.GetAsync("/api/v1/tenant/quotas")));

        Assert.That(burst.Count(r => r.StatusCode == HttpStatusCode.OK), Is.EqualTo(5));
        var refused = burst.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.That(refused, Has.Count.EqualTo(7));
        Assert.That(refused.Select(r => r.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0), Is.All.GreaterThan(0));
        Assert.That((await refused[0].Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RATE_LIMITED"));

        var other = await calm.GetAsync("/api/v1/tenant/quotas");
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another tenant has its own bucket");
        Assert.That((await Client.GetAsync("/api/v1/admin/tenants")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "admins have their own");
    }
    [Test]
    public async Task A_burst_of_device_authorizations_from_one_address_gets_429_with_retry_after()
    {
        using var http = new HttpClient();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 6; i++)
        {
            var response = await http.PostAsync(DevHost.Url + "/connect/device", new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "openhvx-cli" }));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                refused = response;
        }

        Assert.That(statuses.Take(4), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(statuses.Skip(4), Is.All.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused!.Headers.RetryAfter!.Delta, Is.GreaterThan(TimeSpan.Zero));
        Assert.That((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RATE_LIMITED"));
    }
}

/// <summary>Security settings that are missing stop a service at start-up instead of leaving it open or broken.</summary>
[TestFixture]
[Category("Integration")]
public sealed class SecureStartupTests
{
    private static async Task<string> ExitOutputAsync(string project, Dictionary<string, string> environment)
    {
        await using var process = ServiceProcess.Start(project.ToLowerInvariant(), project, environment);
        await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return process.Output;
    }

    [Test]
    public async Task The_orchestrator_refuses_to_start_without_a_token_authority()
    {
        using var folder = new TempFolder(nameof(SecureStartupTests));
        var output = await ExitOutputAsync("Orchestrator", new Dictionary<string, string>
        {
            ["OPENHVX_RABBITMQ_URL"] = "amqp://nobody:nothing@127.0.0.1:1/",
            ["OPENHVX_DB"] = folder.File("orchestrator.db"),
        });
        Assert.That(output, Does.Contain("Set OPENHVX_AUTHORITY"));
    }

    [Test]
    public async Task The_gateway_refuses_to_start_without_an_admin_password()
    {
        using var folder = new TempFolder(nameof(SecureStartupTests));
        var output = await ExitOutputAsync("Gateway", new Dictionary<string, string>
        {
            ["OPENHVX_ORCHESTRATOR_URL"] = "http://127.0.0.1:1",
            ["OPENHVX_GATEWAY_DB"] = folder.File("gateway.db"),
        });
        Assert.That(output, Does.Contain("Set OPENHVX_ADMIN_PASSWORD"));
    }
}
