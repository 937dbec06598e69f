using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// Access ends when it should, long before an access token expires: a removed or disabled user, a removed client, a
/// deleted tenant and a refresh chain revoked for replay lose their tokens at the gateway at once and at the
/// orchestrator (reached directly) within its revocation poll; a tenant created again starts empty and with nobody.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class AccessRevocationTests : DevHostFixture
{
    private static readonly TimeSpan Promise = TimeSpan.FromSeconds(60);

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Orchestrator:RevocationPoll"] = "00:00:01",
        ["Gateway:StoreRefresh"] = "00:00:01",
    };

    private async Task<(string Password, string Token)> UserAsync(string username, string tenantId = "test1", string role = "tenant-user-rw")
    {
        var password = username + "-password-1";
        var created = await Client.PostAsJsonAsync("/api/v1/admin/users", new { username, password, tenantId, roles = new[] { role } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        return (password, await Tokens.PasswordAsync(DevHost.Url, username, password, "tenant"));
    }

    private async Task<HttpStatusCode> ReadQuotasAsync(string token, bool direct)
    {
        using var client = Tokens.Client(direct ? DevHost.App.CoreUrl : DevHost.Url, token);
        return (await client.GetAsync("/api/v1/tenant/quotas")).StatusCode;
    }

    /// <summary>The token is refused by the gateway and, within the promised minute, by the orchestrator reached directly.</summary>
    private async Task AssertEndedAsync(string token, string what)
    {
        var clock = Stopwatch.StartNew();
        Assert.That(await ReadQuotasAsync(token, direct: false), Is.EqualTo(HttpStatusCode.Unauthorized), $"{what}: the gateway refuses at once");
        await Eventually.True(async () => await ReadQuotasAsync(token, direct: true) == HttpStatusCode.Unauthorized, Promise, $"{what}: the orchestrator refuses");
        Assert.That(clock.Elapsed, Is.LessThan(Promise));
    }

    private async Task AssertWorksAsync(string token)
    {
        Assert.That(await ReadQuotasAsync(token, direct: false), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ReadQuotasAsync(token, direct: true), Is.EqualTo(HttpStatusCode.OK));
    }

    private static Task<HttpResponseMessage> GrantAsync(string gatewayUrl, Dictionary<string, string> form)
        => new HttpClient().PostAsync(gatewayUrl + "/connect/token", new FormUrlEncodedContent(form));

    [Test]
    public async Task Removing_a_user_ends_its_access_tokens()
    {
        var (_, token) = await UserAsync("dave");
        await AssertWorksAsync(token);

        Assert.That((await Client.DeleteAsync("/api/v1/admin/users/dave")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        await AssertEndedAsync(token, "a removed user");
    }

    [Test]
    public async Task Disabling_a_user_ends_its_tokens_and_enabling_it_again_does_not_revive_them()
    {
        var (password, token) = await UserAsync("erin");
        await AssertWorksAsync(token);

        Assert.That((await Client.PatchAsJsonAsync("/api/v1/admin/users/erin", new { disabled = true })).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await AssertEndedAsync(token, "a disabled user");
        Assert.That(() => Tokens.PasswordAsync(DevHost.Url, "erin", password, "tenant"), Throws.InvalidOperationException, "a disabled user cannot sign in");

        Assert.That((await Client.PatchAsJsonAsync("/api/v1/admin/users/erin", new { disabled = false })).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ReadQuotasAsync(token, direct: false), Is.EqualTo(HttpStatusCode.Unauthorized), "the old token stays ended");
        await AssertWorksAsync(await Tokens.PasswordAsync(DevHost.Url, "erin", password, "tenant"));
    }

    [Test]
    public async Task Changing_a_users_password_or_roles_ends_the_tokens_it_holds()
    {
        var (_, token) = await UserAsync("fay");
        await AssertWorksAsync(token);

        Assert.That((await Client.PatchAsJsonAsync("/api/v1/admin/users/fay", new { roles = new[] { "tenant-user-r" } })).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await AssertEndedAsync(token, "a user whose roles changed");
    }

    [Test]
    public async Task A_sign_in_under_way_while_the_password_changes_yields_no_token_that_outlives_the_change()
    {
        var (oldPassword, _) = await UserAsync("hal");
        var signIns = new List<(DateTimeOffset Started, JsonElement? Answer)>();
        using var stop = new CancellationTokenSource();
        var loops = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            using var http = new HttpClient();
            while (!stop.IsCancellationRequested)
            {
                var started = DateTimeOffset.UtcNow;
                var response = await http.PostAsync(DevHost.Url + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "password", ["username"] = "hal", ["password"] = oldPassword, ["audience"] = "tenant",
                }));
                var answer = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : (JsonElement?)null;
                lock (signIns)
                    signIns.Add((started, answer));
            }
        })).ToList();
        await Eventually.True(() => Task.FromResult(signIns.Count(s => s.Answer is not null) >= 4), because: "sign-ins succeed before the change");

        var changed = await Client.PatchAsJsonAsync("/api/v1/admin/users/hal", new { password = "hal-new-password-1" });
        var changeDone = DateTimeOffset.UtcNow;
        Assert.That(changed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Task.Delay(1500); // sign-ins keep running across the change and into the next second
        await stop.CancelAsync();
        await Task.WhenAll(loops);

        // Every token obtained with the old password, whenever its request ended, is refused now, and so is its refresh.
        var tokens = signIns.Where(s => s.Started < changeDone && s.Answer is not null).Select(s => s.Answer!.Value).ToList();
        Assert.That(tokens, Is.Not.Empty);
        foreach (var token in tokens)
        {
            Assert.That(await ReadQuotasAsync(token.GetProperty("access_token").GetString()!, direct: false), Is.EqualTo(HttpStatusCode.Unauthorized));
            var refreshed = await GrantAsync(DevHost.Url, new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["refresh_token"] = token.GetProperty("refresh_token").GetString()!,
            });
            Assert.That(refreshed.IsSuccessStatusCode, Is.False, "its refresh token ends too");
        }
        Assert.That(signIns.Where(s => s.Started > changeDone).All(s => s.Answer is null), Is.True, "the old password obtains nothing after the change");
    }

    [Test]
    public async Task Removing_a_service_client_ends_its_tokens_and_its_secret()
    {
        var created = await (await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "ci-robot", tenantId = "test1", roles = new[] { "tenant-user-r" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "ci-robot", ["client_secret"] = created.GetProperty("clientSecret").GetString()!, ["audience"] = "tenant",
        };
        var token = (await Tokens.RequestAsync(DevHost.Url, form)).GetProperty("access_token").GetString()!;
        await AssertWorksAsync(token);

        Assert.That((await Client.DeleteAsync("/api/v1/admin/clients/ci-robot")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        await AssertEndedAsync(token, "a removed client");
        Assert.That((await GrantAsync(DevHost.Url, form)).IsSuccessStatusCode, Is.False, "its secret obtains nothing more");
        var clients = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/clients");
        Assert.That(clients.EnumerateArray().Select(c => c.GetProperty("clientId").GetString()), Does.Not.Contain("ci-robot"));
    }

    [Test]
    public async Task Replaying_a_used_refresh_token_ends_the_access_tokens_of_its_chain()
    {
        var (password, _) = await UserAsync("gus");
        var first = await Tokens.RequestAsync(DevHost.Url, new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "gus", ["password"] = password, ["audience"] = "tenant",
        });
        var refresh = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = first.GetProperty("refresh_token").GetString()! };
        var second = await Tokens.RequestAsync(DevHost.Url, refresh);
        var tokens = new[] { first.GetProperty("access_token").GetString()!, second.GetProperty("access_token").GetString()! };
        foreach (var token in tokens)
            await AssertWorksAsync(token);

        var replay = await GrantAsync(DevHost.Url, refresh);
        Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "the used refresh token is refused and its chain revoked");

        foreach (var token in tokens)
        {
            await Eventually.True(async () => await ReadQuotasAsync(token, direct: false) == HttpStatusCode.Unauthorized, Promise, "the gateway refuses the chain");
            await Eventually.True(async () => await ReadQuotasAsync(token, direct: true) == HttpStatusCode.Unauthorized, Promise, "the orchestrator refuses the chain");
        }
        var successor = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = second.GetProperty("refresh_token").GetString()! };
        Assert.That((await GrantAsync(DevHost.Url, successor)).StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "the successor is revoked too");
    }

    [Test]
    public async Task Deleting_a_tenant_removes_its_accounts_and_a_tenant_created_again_under_its_id_starts_empty()
    {
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = "phoenix", limits = new { cpu = 8 } })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var (password, token) = await UserAsync("phoenix-rw", "phoenix");
        var client = await (await Client.PostAsJsonAsync("/api/v1/admin/clients", new { clientId = "phoenix-ci", tenantId = "phoenix", roles = new[] { "tenant-user-r" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        using (var tenant = Tokens.Client(DevHost.Url, token))
        {
            // A task of the first tenant (refused: the image does not exist), with an idempotency key.
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tenant/tasks")
            {
                Content = JsonContent.Create(new { action = "vm.create", data = new { name = "old-vm", imageId = "no-such-image" } }),
            };
            request.Headers.Add("Idempotency-Key", "phoenix-key-1");
            var refused = await tenant.SendAsync(request);
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), await refused.Content.ReadAsStringAsync());
        }
        Assert.That((await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=phoenix")).GetProperty("items").GetArrayLength(), Is.EqualTo(1));

        Assert.That((await Client.DeleteAsync("/api/v1/admin/tenants/phoenix")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));

        await AssertEndedAsync(token, "a user of a deleted tenant");
        var users = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/users?tenantId=phoenix");
        Assert.That(users.GetArrayLength(), Is.Zero, "its users are removed");
        var clients = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/clients?tenantId=phoenix");
        Assert.That(clients.GetArrayLength(), Is.Zero, "its clients are removed");
        Assert.That(() => Tokens.PasswordAsync(DevHost.Url, "phoenix-rw", password, "tenant"), Throws.InvalidOperationException);
        Assert.That((await GrantAsync(DevHost.Url, new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "phoenix-ci", ["client_secret"] = client.GetProperty("clientSecret").GetString()!, ["audience"] = "tenant",
        })).IsSuccessStatusCode, Is.False);

        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId = "phoenix" })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ReadQuotasAsync(token, direct: false), Is.EqualTo(HttpStatusCode.Unauthorized), "the old token does not reach the new tenant");
        Assert.That(await ReadQuotasAsync(token, direct: true), Is.EqualTo(HttpStatusCode.Unauthorized), "not even past the gateway");
        Assert.That((await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?tenantId=phoenix")).GetProperty("items").GetArrayLength(), Is.Zero,
            "the new tenant has no tasks");
        var (_, newcomer) = await UserAsync("phoenix-new", "phoenix");
        using var fresh = Tokens.Client(DevHost.Url, newcomer);
        Assert.That((await fresh.GetFromJsonAsync<JsonElement>("/api/v1/tenant/tasks")).GetProperty("items").GetArrayLength(), Is.Zero);
        var quotas = await fresh.GetFromJsonAsync<JsonElement>("/api/v1/tenant/quotas");
        Assert.That(quotas.GetProperty("cpu").GetProperty("limit").GetInt64(), Is.EqualTo(-1), "the old tenant's limits are gone");
        using var replay = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tenant/tasks")
        {
            Content = JsonContent.Create(new { action = "vm.create", data = new { name = "new-vm", imageId = "other-missing-image" } }),
        };
        replay.Headers.Add("Idempotency-Key", "phoenix-key-1");
        var answer = await fresh.SendAsync(replay);
        Assert.That((await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_IMAGE_NOT_FOUND"),
            "the old idempotency key is gone: a different body is a new request, not a conflict");
    }
}
