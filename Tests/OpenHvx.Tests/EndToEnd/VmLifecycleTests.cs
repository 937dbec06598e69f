using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

/// <summary>vm.create, vm.edit, vm.power, vm.delete and inventory.refresh end to end in DevHost (real scripts, simulated host).</summary>
[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class VmLifecycleTests : DevHostFixture
{
    // Set-VMProcessor is slow, so an edit stays in flight long enough to meet a second one.
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Agent:Simulated:LatencyMs:Set-VMProcessor"] = "1500" };

    private async Task<string> TenantAsync(object? limits = null)
    {
        var tenantId = "life-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId, limits });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return tenantId;
    }

    private Task<HttpResponseMessage> SubmitAsync(string tenantId, string action, object data, string? vmId = null)
        => Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId, action, target = vmId is null ? null : new { kind = "vm", refId = vmId }, data });

    private async Task<JsonElement> RunAsync(string tenantId, string action, object data, string? vmId = null, string expect = "SUCCESS")
    {
        var response = await SubmitAsync(tenantId, action, data, vmId);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(90), $"{action} finishes");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo(expect), task.ToString());
        return task;
    }

    private async Task<string> CreateAsync(string tenantId, string name, int cpu = 2)
        => (await RunAsync(tenantId, "vm.create", new { name, cpu, ram = "2GB" })).GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!;

    private async Task<(long Cpu, long Memory, long Storage, long Vms, long Held)> UsageAsync(string tenantId)
    {
        var q = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        long Used(string n) => q.GetProperty(n).GetProperty("used").GetInt64();
        return (Used("cpu"), Used("memoryMB"), Used("storageMB"), Used("vmCount"),
            q.GetProperty("cpu").GetProperty("held").GetInt64() + q.GetProperty("memoryMB").GetProperty("held").GetInt64());
    }

    private async Task<JsonElement?> HostVmAsync(string vmId)
        => (await AgentHost.VmsAsync(DevHost.Services)).Where(v => v.GetProperty("id").GetString() == vmId).Cast<JsonElement?>().FirstOrDefault();

    [Test]
    public async Task Create_edit_power_and_delete_keep_the_quota_exact_and_end_at_zero()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "web1");
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((2L, 2048L, 10240L, 1L, 0L)));

        var edit = await RunAsync(tenantId, "vm.edit", new { cpu = 4, ram = "3GB" }, vmId);
        Assert.That(edit.GetProperty("quota").GetProperty("deltas").GetProperty("cpu").GetInt64(), Is.EqualTo(2));
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((4L, 3072L, 10240L, 1L, 0L)), "the edit charged 2 vCPUs and 1 GB more");
        Assert.That((await HostVmAsync(vmId))!.Value.GetProperty("cpu").GetProperty("vcpus").GetInt32(), Is.EqualTo(4));

        await RunAsync(tenantId, "vm.power", new { state = "stop" }, vmId);
        Assert.That((await HostVmAsync(vmId))!.Value.GetProperty("powerState").GetString(), Is.EqualTo("Off"));
        await RunAsync(tenantId, "vm.power", new { state = "start" }, vmId);
        Assert.That((await HostVmAsync(vmId))!.Value.GetProperty("powerState").GetString(), Is.EqualTo("Running"));
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((4L, 3072L, 10240L, 1L, 0L)), "power changes no quota");

        var shrink = await RunAsync(tenantId, "vm.edit", new { cpu = 1 }, vmId);
        Assert.That(shrink.GetProperty("quota").GetProperty("deltas").GetProperty("cpu").GetInt64(), Is.EqualTo(-3));
        Assert.That((await UsageAsync(tenantId)).Cpu, Is.EqualTo(1), "a decrease is released on success");

        await RunAsync(tenantId, "vm.delete", new { forceStop = true }, vmId);
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((0L, 0L, 0L, 0L, 0L)));
        Assert.That(await HostVmAsync(vmId), Is.Null);
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources")).GetArrayLength(), Is.Zero);
        await CreateAsync(tenantId, "web1");
    }

    [Test]
    public async Task An_edit_over_quota_is_refused_before_dispatch_and_the_vm_is_unchanged()
    {
        var tenantId = await TenantAsync(new { cpu = 4 });
        var vmId = await CreateAsync(tenantId, "capped");

        var response = await SubmitAsync(tenantId, "vm.edit", new { cpu = 8 }, vmId);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_QUOTA_EXCEEDED"));
        Assert.That((await HostVmAsync(vmId))!.Value.GetProperty("cpu").GetProperty("vcpus").GetInt32(), Is.EqualTo(2));
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((2L, 2048L, 10240L, 1L, 0L)));
        await RunAsync(tenantId, "vm.edit", new { cpu = 3 }, vmId);
    }

    [Test]
    public async Task Of_two_concurrent_edits_of_one_vm_one_waits_with_ERR_RESOURCE_LOCKED_until_the_first_ends()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "busy");

        var first = await SubmitAsync(tenantId, "vm.edit", new { cpu = 3 }, vmId);
        var second = await SubmitAsync(tenantId, "vm.edit", new { cpu = 4 }, vmId);

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RESOURCE_LOCKED"));
        await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(first.Headers.Location), t => t.GetProperty("status").GetString() == "SUCCESS", TimeSpan.FromSeconds(60));
        await RunAsync(tenantId, "vm.edit", new { cpu = 4 }, vmId);
        Assert.That((await UsageAsync(tenantId)).Cpu, Is.EqualTo(4));
    }

    [Test]
    public async Task Deleting_a_vm_the_host_no_longer_has_succeeds_and_unlinks_it()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "vanished");
        var runner = DevHost.Services.GetRequiredService<PowerShellRunner>();
        var removed = await runner.RunAsync("Remove-VM", [new("Name", $"{tenantId}.vanished"), new("Force", true)], TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.That(removed.Ok, Is.True, removed.Error?.Message);

        var task = await RunAsync(tenantId, "vm.delete", new { }, vmId);

        Assert.That(task.GetProperty("result").GetProperty("vm").GetProperty("alreadyGone").GetBoolean(), Is.True);
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources")).GetArrayLength(), Is.Zero);
        Assert.That(await UsageAsync(tenantId), Is.EqualTo((0L, 0L, 0L, 0L, 0L)));
    }

    [Test]
    public async Task An_invalid_power_transition_fails_with_a_clear_error()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "awake");

        var task = await RunAsync(tenantId, "vm.power", new { state = "resume" }, vmId, expect: "FAILED");

        Assert.That(task.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("ERR_INVALID_STATE"));
        Assert.That(task.GetProperty("error").GetProperty("message").GetString(), Does.Contain("Running"));
        await RunAsync(tenantId, "vm.power", new { state = "pause" }, vmId);
        await RunAsync(tenantId, "vm.power", new { state = "resume" }, vmId);
    }

    [Test]
    public async Task A_tenant_cannot_target_another_tenants_vm()
    {
        var owner = await TenantAsync();
        var intruder = await TenantAsync();
        var vmId = await CreateAsync(owner, "private");

        foreach (var (action, data) in new (string, object)[] { ("vm.delete", new { }), ("vm.power", new { state = "stop" }), ("vm.edit", new { cpu = 1 }) })
        {
            var response = await SubmitAsync(intruder, action, data, vmId);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), action);
            Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_NOT_FOUND"));
        }
        Assert.That((await HostVmAsync(vmId))!.Value.GetProperty("powerState").GetString(), Is.EqualTo("Running"));
    }

    [Test]
    public async Task Inventory_refresh_returns_the_canonical_inventory()
    {
        var task = await RunAsync("test1", "inventory.refresh", new { });
        Assert.That(task.GetProperty("result").GetProperty("schemaVersion").GetString(), Is.EqualTo("1.0.0"));
        var agent = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/agents/{TestDevHost.AgentId}");
        Assert.That(agent.GetProperty("inventory").GetProperty("schemaVersion").GetString(), Is.EqualTo("1.0.0"));
    }

    [TestCase("vm.delete", """{"forceStop":"yes"}""", "data.forceStop")]
    [TestCase("vm.delete", """{"wipe":true}""", "data.wipe")]
    [TestCase("vm.edit", """{}""", "data")]
    [TestCase("vm.edit", """{"cpu":0}""", "data.cpu")]
    [TestCase("vm.edit", """{"ram":"lots"}""", "data.ram")]
    [TestCase("vm.edit", """{"name":"bad name"}""", "data.name")]
    [TestCase("vm.edit", """{"dynamicMemory":{"enabled":true,"min":"4GB","max":"1GB"}}""", "data.dynamicMemory")]
    [TestCase("vm.power", """{}""", "data.state")]
    [TestCase("vm.power", """{"state":"explode"}""", "data.state")]
    [TestCase("inventory.refresh", """{"deep":true}""", "data.deep")]
    public async Task Invalid_action_data_gets_422_with_the_field(string action, string data, string field)
    {
        var kind = action == "inventory.refresh" ? "host" : "vm";
        var body = $$"""{"tenantId":"test1","action":"{{action}}","target":{"kind":"{{kind}}","refId":"{{Guid.NewGuid()}}"},"data":{{data}}}""";
        var response = await Client.PostAsync("/api/v1/admin/tasks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), Is.True, text);
    }

    [TestCase("vm.delete")]
    [TestCase("vm.edit")]
    [TestCase("vm.power")]
    public async Task An_action_on_a_vm_without_target_refId_gets_400(string action)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action, data = new { state = "start", cpu = 2 } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_BAD_ENVELOPE"));
    }

    [Test]
    public async Task A_vm_renamed_to_its_own_name_or_another_case_of_it_keeps_it()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "Mirror1");

        var same = await RunAsync(tenantId, "vm.edit", new { name = "Mirror1" }, vmId);
        Assert.That(same.GetProperty("result").GetProperty("vm").GetProperty("name").GetString(), Is.EqualTo("Mirror1"));
        var recased = await RunAsync(tenantId, "vm.edit", new { name = "mirror1" }, vmId);
        Assert.That(recased.GetProperty("result").GetProperty("vm").GetProperty("name").GetString(), Is.EqualTo("mirror1"));

        var resources = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources");
        Assert.That(resources.EnumerateArray().Single().GetProperty("name").GetString(), Is.EqualTo("mirror1"));
        var taken = await SubmitAsync(tenantId, "vm.create", new { name = "MIRROR1" });
        Assert.That((await taken.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_NAME_TAKEN"),
            "the name stays the VM's, in any case");
    }
}
