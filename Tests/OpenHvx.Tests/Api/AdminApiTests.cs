using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Tests.Support;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Tests.Api;

/// <summary>Tenants, quotas and images over HTTP against the real DevHost.</summary>
[TestFixture]
[Category("Integration")]
public sealed class AdminApiTests : DevHostFixture
{

    private static string NewTenantId() => "t-" + Guid.NewGuid().ToString("N")[..10];

    private async Task<string> CreateTenantAsync(object? limits = null, string? status = null)
    {
        var tenantId = NewTenantId();
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId, name = "Tenant " + tenantId, status, limits });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        return tenantId;
    }

    private static async Task<string> CodeOf(HttpResponseMessage response, HttpStatusCode status)
        => (await ProblemOf(response, status)).GetProperty("code").GetString()!;

    private static async Task<JsonElement> ProblemOf(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Test]
    public async Task A_tenant_is_created_read_listed_updated_and_deleted()
    {
        var tenantId = await CreateTenantAsync(new { cpu = 8, memoryMB = 16384 });

        var tenant = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}");
        Assert.That(tenant.GetProperty("status").GetString(), Is.EqualTo("active"));
        Assert.That(tenant.GetProperty("limits").GetProperty("cpu").GetInt64(), Is.EqualTo(8));
        Assert.That(tenant.GetProperty("limits").GetProperty("storageMB").GetInt64(), Is.EqualTo(-1), "limits not named are unlimited");
        var list = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants");
        Assert.That(list.EnumerateArray().Select(t => t.GetProperty("tenantId").GetString()), Does.Contain(tenantId));

        var patched = await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{tenantId}", new { name = "Renamed" });
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}")).GetProperty("name").GetString(), Is.EqualTo("Renamed"));

        Assert.That((await Client.DeleteAsync($"/api/v1/admin/tenants/{tenantId}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(await CodeOf(await Client.GetAsync($"/api/v1/admin/tenants/{tenantId}"), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
    }

    [Test]
    public async Task Unknown_tenants_get_404_everywhere()
    {
        var missing = NewTenantId();
        foreach (var path in new[] { $"/api/v1/admin/tenants/{missing}", $"/api/v1/admin/tenants/{missing}/quotas", $"/api/v1/admin/tenants/{missing}/resources" })
            Assert.That(await CodeOf(await Client.GetAsync(path), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"), path);
        Assert.That(await CodeOf(await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{missing}/quotas", new { cpu = 1 }), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
        Assert.That(await CodeOf(await Client.DeleteAsync($"/api/v1/admin/tenants/{missing}"), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
        Assert.That(await CodeOf(await Client.PostAsync($"/api/v1/admin/tenants/{missing}/quotas/recount", null), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
    }

    [TestCase("""{"tenantId":"Bad Id"}""", "tenantId")]
    [TestCase("""{"name":"no id"}""", "tenantId")]
    [TestCase("""{"tenantId":"ok-id","status":"paused"}""", "status")]
    [TestCase("""{"tenantId":"ok-id","limits":{"cpu":-2}}""", "limits.cpu")]
    [TestCase("""{"tenantId":"ok-id","limits":{"gpus":1}}""", "limits.gpus")]
    [TestCase("""{"tenantId":"ok-id","owner":"me"}""", "owner")]
    public async Task Invalid_tenants_get_422_with_the_field(string body, string field)
    {
        var response = await Client.PostAsync("/api/v1/admin/tenants", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var problem = await ProblemOf(response, HttpStatusCode.UnprocessableEntity);
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_VALIDATION"));
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, problem.ToString());
    }

    [Test]
    public async Task A_second_tenant_with_the_same_id_gets_409()
    {
        var tenantId = await CreateTenantAsync();
        var again = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId });
        Assert.That(await CodeOf(again, HttpStatusCode.Conflict), Is.EqualTo("ERR_TENANT_EXISTS"));
    }

    [Test]
    public async Task A_disabled_tenants_tasks_are_refused_with_ERR_TENANT_DISABLED()
    {
        var tenantId = await CreateTenantAsync(status: "disabled");

        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = "nope" } });

        Assert.That(await CodeOf(response, HttpStatusCode.Forbidden), Is.EqualTo("ERR_TENANT_DISABLED"));
        var quota = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That(quota.GetProperty("cpu").GetProperty("held").GetInt64(), Is.Zero);
    }

    [Test]
    public async Task A_task_for_an_unknown_tenant_gets_404()
    {
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = NewTenantId(), action = "vm.create", data = new { name = "x" } });
        Assert.That(await CodeOf(response, HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
    }

    [Test]
    public async Task Patching_limits_never_resets_usage_and_a_tenant_with_resources_cannot_be_deleted()
    {
        var tenantId = await CreateTenantAsync();
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = "keeper", cpu = 2 } });
        await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(created.Headers.Location), t => t.GetProperty("status").GetString() == "SUCCESS", TimeSpan.FromSeconds(60));

        var patched = await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{tenantId}/quotas", new { cpu = 8, memoryMB = -1 });
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patched.Content.ReadAsStringAsync());
        var quota = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That((quota.GetProperty("cpu").GetProperty("limit").GetInt64(), quota.GetProperty("cpu").GetProperty("used").GetInt64()), Is.EqualTo((8L, 2L)));
        Assert.That(await CodeOf(await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{tenantId}/quotas", new { cpu = "eight" }), HttpStatusCode.UnprocessableEntity), Is.EqualTo("ERR_VALIDATION"));

        Assert.That(await CodeOf(await Client.DeleteAsync($"/api/v1/admin/tenants/{tenantId}"), HttpStatusCode.Conflict), Is.EqualTo("ERR_TENANT_HAS_RESOURCES"));
    }

    [Test]
    public async Task A_recount_reports_no_drift_when_usage_matches_the_resources()
    {
        var tenantId = await CreateTenantAsync();
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = "counted", cpu = 3, ram = "3GB" } });
        await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(created.Headers.Location), t => t.GetProperty("status").GetString() == "SUCCESS", TimeSpan.FromSeconds(60));

        var recount = await (await Client.PostAsync($"/api/v1/admin/tenants/{tenantId}/quotas/recount", null)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(recount.GetProperty("corrected").GetBoolean(), Is.False);
        Assert.That(recount.GetProperty("after").GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(3));
        Assert.That(recount.GetProperty("after").GetProperty("memoryMB").GetProperty("used").GetInt64(), Is.EqualTo(3072));
    }

    [Test]
    public async Task A_recount_corrects_drift_from_the_linked_resources_and_reports_it()
    {
        var tenantId = await CreateTenantAsync();
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action = "vm.create", data = new { name = "drifted", cpu = 2 } });
        await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(created.Headers.Location), t => t.GetProperty("status").GetString() == "SUCCESS", TimeSpan.FromSeconds(60));
        // Usage that no resource explains (a lost delete, a manual fix gone wrong).
        await DevHost.Services.GetRequiredService<OpenHvx.Orchestrator.Quotas.QuotaLedger>().AdjustAsync(tenantId, new QuotaAmounts(5, 1024, 0, 1));

        var recount = await (await Client.PostAsync($"/api/v1/admin/tenants/{tenantId}/quotas/recount", null)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(recount.GetProperty("corrected").GetBoolean(), Is.True);
        Assert.That(recount.GetProperty("drift").GetProperty("cpu").GetInt64(), Is.EqualTo(-5));
        Assert.That(recount.GetProperty("drift").GetProperty("vmCount").GetInt64(), Is.EqualTo(-1));
        Assert.That(recount.GetProperty("before").GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(7));
        var quota = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That((quota.GetProperty("cpu").GetProperty("used").GetInt64(), quota.GetProperty("vmCount").GetProperty("used").GetInt64()), Is.EqualTo((2L, 1L)));
    }

    [Test]
    public async Task An_added_image_becomes_the_latest_of_its_name_and_bad_images_get_422()
    {
        var name = "Test-" + Guid.NewGuid().ToString("N")[..6];
        foreach (var (version, day) in new[] { ("1.0", 1), ("2.0", 2) })
        {
            var added = await Client.PostAsJsonAsync("/api/v1/admin/images", new
            {
                name, version, file = $"{name}-{version}.vhdx", generation = 2, minStorageGB = 12, publishedAt = new DateTimeOffset(2026, 1, day, 0, 0, 0, TimeSpan.Zero),
            });
            Assert.That(added.StatusCode, Is.EqualTo(HttpStatusCode.Created), await added.Content.ReadAsStringAsync());
        }

        var latest = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/images/{name}.latest");
        Assert.That(latest.GetProperty("imageId").GetString(), Is.EqualTo($"{name}.2.0"));
        Assert.That(await CodeOf(await Client.GetAsync("/api/v1/admin/images/Nothing.latest"), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));

        var traversal = await Client.PostAsJsonAsync("/api/v1/admin/images", new { name, version = "3.0", file = "../../etc/shadow", minStorageGB = 1 });
        Assert.That(await CodeOf(traversal, HttpStatusCode.UnprocessableEntity), Is.EqualTo("ERR_VALIDATION"));
        var missing = await Client.PostAsJsonAsync("/api/v1/admin/images", new { name });
        Assert.That(await CodeOf(missing, HttpStatusCode.UnprocessableEntity), Is.EqualTo("ERR_VALIDATION"));
    }

    private Task<HttpResponseMessage> AddImageAsync(string name, string version, object? extra = null, string? file = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name, ["version"] = version, ["file"] = file ?? $"{name}-{version}.vhdx", ["minStorageGB"] = 8 };
        foreach (var property in JsonSerializer.SerializeToElement(extra ?? new { }).EnumerateObject())
            body[property.Name] = property.Value;
        return Client.PostAsJsonAsync("/api/v1/admin/images", body);
    }

    [Test]
    public async Task Posting_an_existing_image_id_gets_409_and_put_replaces_it_explicitly()
    {
        var name = "Dup-" + Guid.NewGuid().ToString("N")[..6];
        Assert.That((await AddImageAsync(name, "20260101")).StatusCode, Is.EqualTo(HttpStatusCode.Created));

        var again = await AddImageAsync(name, "20260101", file: "other-file.vhdx");
        Assert.That(await CodeOf(again, HttpStatusCode.Conflict), Is.EqualTo("ERR_IMAGE_EXISTS"));
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/images/{name}.20260101")).GetProperty("file").GetString(),
            Is.EqualTo($"{name}-20260101.vhdx"), "the first image is untouched");

        var replaced = await Client.PutAsJsonAsync($"/api/v1/admin/images/{name}.20260101", new { name, version = "20260101", file = "other-file.vhdx", minStorageGB = 9 });
        Assert.That(replaced.StatusCode, Is.EqualTo(HttpStatusCode.OK), await replaced.Content.ReadAsStringAsync());
        var image = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/images/{name}.20260101");
        Assert.That((image.GetProperty("file").GetString(), image.GetProperty("minStorageGB").GetInt32()), Is.EqualTo(("other-file.vhdx", 9)));

        var created = await Client.PutAsJsonAsync($"/api/v1/admin/images/{name}.new", new { name, version = "20260102", file = "new.vhdx", minStorageGB = 9 });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), "PUT of a new id creates it");
        var mismatch = await Client.PutAsJsonAsync($"/api/v1/admin/images/{name}.new", new { imageId = "another", name, version = "20260102", file = "new.vhdx", minStorageGB = 9 });
        Assert.That(await CodeOf(mismatch, HttpStatusCode.UnprocessableEntity), Is.EqualTo("ERR_VALIDATION"));
    }

    [Test]
    public async Task PublishedAt_is_required_unless_the_version_holds_a_date_and_never_becomes_now()
    {
        var name = "Dated-" + Guid.NewGuid().ToString("N")[..6];
        var undated = await AddImageAsync(name, "1.0");
        Assert.That((await ProblemOf(undated, HttpStatusCode.UnprocessableEntity)).GetProperty("errors").TryGetProperty("publishedAt", out _), Is.True);
        var garbled = await AddImageAsync(name, "1.0", new { publishedAt = "yesterday" });
        Assert.That((await ProblemOf(garbled, HttpStatusCode.UnprocessableEntity)).GetProperty("errors").TryGetProperty("publishedAt", out _), Is.True);

        Assert.That((await AddImageAsync(name, "10.1-20240301")).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var image = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/images/{name}.10.1-20240301");
        Assert.That(image.GetProperty("publishedAt").GetDateTimeOffset(), Is.EqualTo(new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero)));

        // A later upload of an older version does not become <name>.latest.
        Assert.That((await AddImageAsync(name, "10.0-20231101")).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/images/{name}.latest")).GetProperty("version").GetString(), Is.EqualTo("10.1-20240301"));
    }

    [Test]
    public async Task Only_one_image_is_the_default_at_a_time_and_the_default_cannot_be_deleted()
    {
        var name = "Default-" + Guid.NewGuid().ToString("N")[..6];
        var before = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/images")).EnumerateArray().Single(i => i.GetProperty("isDefault").GetBoolean());
        try
        {
            Assert.That((await AddImageAsync(name, "20260101", new { isDefault = true })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
            Assert.That((await AddImageAsync(name, "20260201", new { isDefault = true })).StatusCode, Is.EqualTo(HttpStatusCode.Created));

            var defaults = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/images")).EnumerateArray()
                .Where(i => i.GetProperty("isDefault").GetBoolean()).Select(i => i.GetProperty("imageId").GetString()).ToList();
            Assert.That(defaults, Is.EqualTo(new[] { $"{name}.20260201" }));
            Assert.That(await CodeOf(await Client.DeleteAsync($"/api/v1/admin/images/{name}.20260201"), HttpStatusCode.Conflict), Is.EqualTo("ERR_IMAGE_IN_USE"));
            Assert.That((await Client.DeleteAsync($"/api/v1/admin/images/{name}.20260101")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent), "a former default is free");
            Assert.That(await CodeOf(await Client.GetAsync($"/api/v1/admin/images/{name}.20260101"), HttpStatusCode.NotFound), Is.EqualTo("ERR_NOT_FOUND"));
        }
        finally
        {
            // The catalog's own default again, for the other tests of this host.
            var restore = JsonSerializer.Deserialize<Dictionary<string, object?>>(before.GetRawText())!;
            restore["isDefault"] = true;
            restore.Remove("imageId");
            Assert.That((await Client.PutAsJsonAsync($"/api/v1/admin/images/{before.GetProperty("imageId").GetString()}", restore)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
    }

    [Test]
    public async Task An_image_a_vm_was_built_from_cannot_be_deleted_until_the_vm_is_gone()
    {
        var tenantId = await CreateTenantAsync();
        var name = "Built-" + Guid.NewGuid().ToString("N")[..6];
        // The file of a demo image, which the simulated host has.
        Assert.That((await AddImageAsync(name, "20260101", file: "Ubuntu-24.04-Server-Cloud-20251015.vhdx")).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var imageId = $"{name}.20260101";
        var vmId = (await RunTaskAsync(tenantId, "vm.create", new { name = "built1", cpu = 1, ram = "1GB", imageId })).GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!;

        var refused = await ProblemOf(await Client.DeleteAsync($"/api/v1/admin/images/{imageId}"), HttpStatusCode.Conflict);
        Assert.That(refused.GetProperty("code").GetString(), Is.EqualTo("ERR_IMAGE_IN_USE"));
        Assert.That(refused.GetProperty("detail").GetString(), Does.Contain("1 VM"));

        await RunTaskAsync(tenantId, "vm.delete", new { forceStop = true }, vmId);
        Assert.That((await Client.DeleteAsync($"/api/v1/admin/images/{imageId}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
    }

    private async Task<JsonElement> RunTaskAsync(string tenantId, string action, object data, string? vmId = null)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action, target = vmId is null ? null : new { kind = "vm", refId = vmId }, data });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(60), $"{action} finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        return task;
    }
}
