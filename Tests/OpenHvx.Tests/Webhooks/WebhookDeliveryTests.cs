using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace OpenHvx.Tests.Webhooks;

/// <summary>
/// Webhooks over the real API, delivering to a real HTTP listener: signed Standard Webhooks messages of the tenant's own task events,
/// in order, filtered, retried with the same id, disabled after too many failures and enabled again. Loopback is allowed explicitly.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
public sealed class WebhookDeliveryTests : DevHostFixture
{
    private WebhookReceiver _receiver = null!;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Orchestrator:Webhooks:AllowedNetworks:0"] = "127.0.0.0/8",
        ["Orchestrator:Webhooks:FirstRetryInterval"] = "00:00:00.200",
        ["Orchestrator:Webhooks:MaxRetryInterval"] = "00:00:00.400",
        ["Orchestrator:Webhooks:PollInterval"] = "00:00:00.500",
        ["Orchestrator:Webhooks:MaxConsecutiveFailures"] = "3",
        // A pause fails on this host: a FAILED task on demand.
        ["Agent:Simulated:Faults:Suspend-VM:Message"] = "cannot pause",
    };

    [OneTimeSetUp]
    public async Task StartReceiverAsync() => _receiver = await WebhookReceiver.StartAsync();

    [OneTimeTearDown]
    public async Task StopReceiverAsync()
    {
        if (_receiver is not null)
            await _receiver.DisposeAsync();
    }

    private static IReadOnlyList<string> Ids(IEnumerable<ReceivedWebhook> received) => received.Select(r => r.Id).ToList();

    [Test]
    public async Task A_receiver_gets_every_event_of_a_vm_create_in_order_signed_with_the_secret()
    {
        using var tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-order");
        var created = await WebhookApi.CreateAsync(tenant, new { url = _receiver.Url + "/order", events = new[] { "vm.create.*" } });
        var secret = created.GetProperty("secret").GetString()!;
        Assert.That(secret, Does.StartWith("whsec_"));
        Assert.That(Convert.FromBase64String(secret["whsec_".Length..]), Has.Length.EqualTo(32), "a generated secret");
        var id = created.GetProperty("id").GetString()!;
        var read = await WebhookApi.GetAsync(tenant, id);
        Assert.That(read.TryGetProperty("secret", out _), Is.False, "the secret is shown once, at creation");
        Assert.That(read.GetProperty("secretHint").GetString(), Does.EndWith(secret[^4..]).And.StartWith("whsec_"));
        Assert.That(read.GetProperty("status").GetString(), Is.EqualTo("active"));

        var taskId = await WebhookApi.RunAsync(tenant, "vm.create", new { name = "hooked", cpu = 1, ram = "1GB" });

        var received = await Eventually.Get(() => Task.FromResult(_receiver.Accepted("/order")), r => r.Any(x => x.Type == "vm.create.SUCCESS"),
            TimeSpan.FromSeconds(30), "the SUCCESS event arrives");
        var logged = await WebhookApi.LoggedAsync(DevHost, taskId);
        Assert.That(Ids(received), Is.EqualTo(logged.Select(e => $"evt_{e.Sequence}")), "every event of the task, once, in order");
        Assert.That(received.Select(r => r.Data.GetProperty("status").GetString()).Distinct(),
            Is.EqualTo(new[] { "pending", "sent", "running", "SUCCESS" }), "pending steps, sent, running, SUCCESS");
        var standard = new StandardWebhook(secret);
        foreach (var r in received)
        {
            Assert.That(r.TaskId, Is.EqualTo(taskId.ToString()));
            Assert.That(r.Data.GetProperty("tenantId").GetString(), Is.EqualTo("hook-order"));
            Assert.That(r.Id, Is.EqualTo("evt_" + r.Data.GetProperty("id").GetString()));
            Assert.That(r.Headers.ContentType.ToString(), Does.StartWith("application/json"));
            Assert.That(long.Parse(r.Headers["webhook-timestamp"].ToString()), Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Within(60));
            Assert.That(WebhookApi.SignatureIsValid(secret, r), Is.True, $"the documented signature of {r.Id}");
            Assert.DoesNotThrow(() => standard.Verify(r.Body, r.Headers), "the Standard Webhooks library accepts it");
        }
        Assert.That(WebhookApi.SignatureIsValid(secret, received[0] with { Body = received[0].Body.Replace("hook-order", "hook-other") }), Is.False,
            "a changed body fails the check");
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(WebhookSecretOf(new byte[32])).Verify(received[0].Body, received[0].Headers),
            "another secret fails the check");

        var after = await WebhookApi.GetAsync(tenant, id);
        Assert.That(after.GetProperty("lastDeliveredAt").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(after.GetProperty("consecutiveFailures").GetInt32(), Is.Zero);
    }

    private static string WebhookSecretOf(byte[] key) => "whsec_" + Convert.ToBase64String(key);

    [Test]
    public async Task Only_events_that_match_a_webhooks_patterns_reach_it()
    {
        using var tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-filter");
        await WebhookApi.CreateAsync(tenant, new { url = _receiver.Url + "/failed", events = new[] { "*.FAILED" } });
        var successes = await WebhookApi.CreateAsync(tenant, new { url = _receiver.Url + "/created", events = new[] { "vm.create.SUCCESS", "vm.create.SUCCESS" } });
        Assert.That(successes.GetProperty("events").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "vm.create.SUCCESS" }), "duplicates dropped");

        var created = await WebhookApi.RunAsync(tenant, "vm.create", new { name = "filtered", cpu = 1, ram = "1GB" });
        var vm = (await tenant.GetFromJsonAsync<JsonElement>($"/api/v1/tenant/tasks/{created}")).GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        var paused = await WebhookApi.RunAsync(tenant, "vm.power", new { state = "pause" }, expect: "FAILED", vmId: vm);

        var failed = await Eventually.Get(() => Task.FromResult(_receiver.Accepted("/failed")), r => r.Count > 0, TimeSpan.FromSeconds(30), "the failure arrives");
        var failedEvent = (await WebhookApi.LoggedAsync(DevHost, paused)).Single(e => e.Status == "FAILED");
        // The success webhook has passed the failure too (its cursor), so anything it was to get has come.
        await Eventually.True(async () => long.Parse((await WebhookApi.GetAsync(tenant, successes.GetProperty("id").GetString()!))
            .GetProperty("lastEventId").GetString()!) >= failedEvent.Sequence, TimeSpan.FromSeconds(30), "the success webhook has read past the failure");

        Assert.That(_receiver.To("/failed").Select(r => (r.Type, r.TaskId)), Is.EqualTo(new[] { ("vm.power.FAILED", paused.ToString()) }));
        Assert.That(_receiver.To("/created").Select(r => (r.Type, r.TaskId)), Is.EqualTo(new[] { ("vm.create.SUCCESS", created.ToString()) }));
        Assert.That(failed[0].Data.GetProperty("errorCode").GetString(), Is.Not.Empty);
    }

    [Test]
    public async Task A_failed_delivery_is_retried_with_the_same_id_and_later_events_wait_for_it()
    {
        using var tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-retry");
        var first = new List<string>();
        _receiver.Answer = (path, id) =>
        {
            if (path != "/retry")
                return 200;
            lock (first)
            {
                if (first.Count == 0 || (first[0] == id && first.Count < 3))
                {
                    first.Add(id);
                    return first.Count <= 2 ? 500 : 200;
                }
                return 200;
            }
        };
        try
        {
            var webhook = await WebhookApi.CreateAsync(tenant, new { url = _receiver.Url + "/retry", events = new[] { "*" } });
            var taskId = await WebhookApi.RunAsync(tenant, "vm.create", new { name = "retried", cpu = 1, ram = "1GB" });

            var accepted = await Eventually.Get(() => Task.FromResult(_receiver.Accepted("/retry")), r => r.Any(x => x.Type == "vm.create.SUCCESS"),
                TimeSpan.FromSeconds(30), "every event arrives");
            var all = _receiver.To("/retry");
            Assert.That(all.Take(3).Select(r => (r.Id, r.Answered)), Is.EqualTo(new[] { (first[0], 500), (first[0], 500), (first[0], 200) }),
                "the first event three times with the same id, and nothing else before it was taken");
            Assert.That(all.Take(3).Select(r => r.Body).Distinct().Count(), Is.EqualTo(1), "the same message each time");
            var logged = await WebhookApi.LoggedAsync(DevHost, taskId);
            Assert.That(Ids(accepted), Is.EqualTo(logged.Select(e => $"evt_{e.Sequence}")), "then the later ones, in order, each once");
            var state = await WebhookApi.GetAsync(tenant, webhook.GetProperty("id").GetString()!);
            Assert.That(state.GetProperty("consecutiveFailures").GetInt32(), Is.Zero, "a success resets the count");
            Assert.That(state.GetProperty("lastError").ValueKind, Is.EqualTo(JsonValueKind.Null));
        }
        finally
        {
            _receiver.Answer = (_, _) => 200;
        }
    }

    [Test]
    public async Task Too_many_failures_in_a_row_disable_a_webhook_with_the_reason_and_enabling_it_resumes_where_it_stopped()
    {
        using var tenant = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-down");
        var down = true;
        _receiver.Answer = (path, _) => path == "/down" && Volatile.Read(ref down) ? 500 : 200;
        try
        {
            var webhook = await WebhookApi.CreateAsync(tenant, new { url = _receiver.Url + "/down", events = new[] { "vm.*" } });
            var id = webhook.GetProperty("id").GetString()!;
            var taskId = await WebhookApi.RunAsync(tenant, "vm.create", new { name = "unheard", cpu = 1, ram = "1GB" });

            var disabled = await Eventually.Get(() => WebhookApi.GetAsync(tenant, id), w => w.GetProperty("status").GetString() == "disabled",
                TimeSpan.FromSeconds(30), "the webhook is disabled");
            Assert.That(disabled.GetProperty("disabledReason").GetString(), Is.EqualTo("3 consecutive deliveries failed; last: HTTP 500 Internal Server Error"));
            Assert.That(disabled.GetProperty("disabledAt").ValueKind, Is.EqualTo(JsonValueKind.String));
            Assert.That(disabled.GetProperty("consecutiveFailures").GetInt32(), Is.EqualTo(3));
            var failed = _receiver.To("/down");
            Assert.That(failed.Select(r => r.Id).Distinct().Count(), Is.EqualTo(1), "the first event, three times");
            Assert.That(failed, Has.Count.EqualTo(3));

            var invalid = await tenant.PatchAsJsonAsync($"{WebhookApi.TenantRoute}/{id}", new { status = "on" });
            Assert.That(invalid.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
            Volatile.Write(ref down, false);
            var enabled = await tenant.PatchAsJsonAsync($"{WebhookApi.TenantRoute}/{id}", new { status = "active" });
            Assert.That(enabled.StatusCode, Is.EqualTo(HttpStatusCode.OK), await enabled.Content.ReadAsStringAsync());
            var view = await enabled.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(view.GetProperty("status").GetString(), Is.EqualTo("active"));
            Assert.That(view.GetProperty("disabledReason").ValueKind, Is.EqualTo(JsonValueKind.Null));

            var accepted = await Eventually.Get(() => Task.FromResult(_receiver.Accepted("/down")), r => r.Any(x => x.Type == "vm.create.SUCCESS"),
                TimeSpan.FromSeconds(30), "delivery resumes");
            var logged = await WebhookApi.LoggedAsync(DevHost, taskId);
            Assert.That(Ids(accepted), Is.EqualTo(logged.Select(e => $"evt_{e.Sequence}")), "from the event that failed, nothing lost");
            Assert.That(accepted[0].Id, Is.EqualTo(failed[0].Id));
        }
        finally
        {
            _receiver.Answer = (_, _) => 200;
        }
    }

    [Test]
    public async Task A_tenant_sees_and_gets_only_its_own_webhooks_and_events()
    {
        using var a = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-a");
        using var b = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-b");
        var ofA = (await WebhookApi.CreateAsync(a, new { url = _receiver.Url + "/a", events = new[] { "*" } })).GetProperty("id").GetString()!;
        var ofB = (await WebhookApi.CreateAsync(b, new { url = _receiver.Url + "/b", events = new[] { "*" } })).GetProperty("id").GetString()!;

        Assert.That((await b.GetAsync($"{WebhookApi.TenantRoute}/{ofA}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await b.PatchAsJsonAsync($"{WebhookApi.TenantRoute}/{ofA}", new { status = "disabled" })).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var deleted = await b.DeleteAsync($"{WebhookApi.TenantRoute}/{ofA}");
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await deleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_NOT_FOUND"));
        Assert.That((await b.GetFromJsonAsync<JsonElement>(WebhookApi.TenantRoute)).GetProperty("items").EnumerateArray().Select(w => w.GetProperty("id").GetString()),
            Is.EqualTo(new[] { ofB }));
        Assert.That((await WebhookApi.GetAsync(a, ofA)).GetProperty("status").GetString(), Is.EqualTo("active"), "A's webhook is untouched");
        var adminList = await Client.GetFromJsonAsync<JsonElement>($"{WebhookApi.AdminRoute}?tenantId=hook-a");
        Assert.That(adminList.GetProperty("items").EnumerateArray().Select(w => w.GetProperty("id").GetString()), Is.EqualTo(new[] { ofA }));

        var taskOfA = await WebhookApi.RunAsync(a, "vm.create", new { name = "mine", cpu = 1, ram = "1GB" });
        var taskOfB = await WebhookApi.RunAsync(b, "vm.create", new { name = "mine", cpu = 1, ram = "1GB" });
        await Eventually.True(() => Task.FromResult(_receiver.Accepted("/b").Any(r => r.Type == "vm.create.SUCCESS")
            && _receiver.Accepted("/a").Any(r => r.Type == "vm.create.SUCCESS")), TimeSpan.FromSeconds(30), "both tenants' events arrive");

        // Deliveries are in log order, so A's earlier task would have reached B's endpoint before B's own events.
        Assert.That(_receiver.To("/b").Select(r => r.TaskId).Distinct(), Is.EqualTo(new[] { taskOfB.ToString() }));
        Assert.That(_receiver.To("/b").Select(r => r.Data.GetProperty("tenantId").GetString()).Distinct(), Is.EqualTo(new[] { "hook-b" }));
        Assert.That(_receiver.To("/a").Select(r => r.TaskId).Distinct(), Is.EqualTo(new[] { taskOfA.ToString() }));

        Assert.That((await b.DeleteAsync($"{WebhookApi.TenantRoute}/{ofB}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await b.GetAsync($"{WebhookApi.TenantRoute}/{ofB}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task An_admin_manages_any_tenants_webhooks_and_other_tenant_roles_may_not()
    {
        using var admin = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-roles");
        using var writer = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-roles", "tenant-user-rw", create: false);
        using var reader = await WebhookApi.TenantAsync(Client, DevHost.Url, "hook-roles", "tenant-user-r", create: false);
        var body = new { url = _receiver.Url + "/roles", events = new[] { "*" } };
        Assert.That((await writer.PostAsJsonAsync(WebhookApi.TenantRoute, body)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await writer.GetAsync(WebhookApi.TenantRoute)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await reader.GetAsync(WebhookApi.TenantRoute)).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        var missingTenant = await Client.PostAsJsonAsync(WebhookApi.AdminRoute, body);
        Assert.That(missingTenant.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await missingTenant.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_TENANT_REQUIRED"));
        Assert.That((await Client.PostAsJsonAsync(WebhookApi.AdminRoute, new { tenantId = "hook-nobody", body.url, body.events })).StatusCode,
            Is.EqualTo(HttpStatusCode.NotFound));
        var created = await WebhookApi.CreateAsync(Client, new { tenantId = "hook-roles", body.url, body.events }, WebhookApi.AdminRoute);
        var id = created.GetProperty("id").GetString()!;
        Assert.That(created.GetProperty("tenantId").GetString(), Is.EqualTo("hook-roles"));
        Assert.That((await WebhookApi.GetAsync(admin, id)).GetProperty("id").GetString(), Is.EqualTo(id), "the tenant's admin sees it");
        Assert.That((await Client.PatchAsJsonAsync($"{WebhookApi.AdminRoute}/{id}", new { status = "disabled", url = "https://203.0.113.10/" })).StatusCode,
            Is.EqualTo(HttpStatusCode.UnprocessableEntity), "only the status can be changed");
        Assert.That((await Client.PatchAsJsonAsync($"{WebhookApi.AdminRoute}/{id}", new { status = "disabled" })).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var paused = await WebhookApi.GetAsync(admin, id);
        Assert.That(paused.GetProperty("status").GetString(), Is.EqualTo("disabled"));
        Assert.That(paused.GetProperty("disabledReason").GetString(), Is.EqualTo("disabled through the API"));
        Assert.That((await Client.DeleteAsync($"{WebhookApi.AdminRoute}/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await admin.GetAsync($"{WebhookApi.TenantRoute}/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
