using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

/// <summary>
/// A disabled tenant can be cleaned up by an admin: vm.power stop, turnoff, save or pause and vm.delete run; nothing else does
/// (ERR_TENANT_DISABLED), and the tenant's own users stay refused.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class DisabledTenantCleanupTests : DevHostFixture
{
    private async Task<string> TenantAsync()
    {
        var tenantId = "off-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return tenantId;
    }

    private async Task DisableAsync(string tenantId)
    {
        var patched = await Client.PatchAsJsonAsync($"/api/v1/admin/tenants/{tenantId}", new { status = "disabled" });
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK), await patched.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> AdminSubmitAsync(string tenantId, string action, object data, string? vmId = null)
        => TaskRuns.SubmitAsync(Client, tenantId, action, data, vmId);

    private Task<JsonElement> RunAsync(string tenantId, string action, object data, string? vmId = null) => TaskRuns.RunAsync(Client, tenantId, action, data, vmId);

    private Task<string> CreateAsync(string tenantId, string name) => TaskRuns.CreateVmAsync(Client, tenantId, name);

    private static async Task AssertDisabledAsync(HttpResponseMessage response, string what)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), $"{what}: {text}");
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("code").GetString(), Is.EqualTo("ERR_TENANT_DISABLED"), what);
    }

    private async Task<(long Cpu, long Vms)> UsedAsync(string tenantId)
    {
        var usage = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        return (usage.GetProperty("cpu").GetProperty("used").GetInt64(), usage.GetProperty("vmCount").GetProperty("used").GetInt64());
    }

    [Test]
    public async Task An_admin_stops_and_deletes_a_disabled_tenants_vms_and_their_quota_is_released()
    {
        var tenantId = await TenantAsync();
        var first = await CreateAsync(tenantId, "first");
        var second = await CreateAsync(tenantId, "second");
        await DisableAsync(tenantId);

        var stopped = await RunAsync(tenantId, "vm.power", new { state = "stop", force = true }, first);
        await RunAsync(tenantId, "vm.power", new { state = "pause" }, second);
        await RunAsync(tenantId, "vm.power", new { state = "turnoff" }, second);
        await RunAsync(tenantId, "vm.delete", new { }, first);
        await RunAsync(tenantId, "vm.delete", new { forceStop = true }, second);

        Assert.That(stopped.GetProperty("result").GetProperty("vm").GetProperty("state").GetString(), Is.EqualTo("Off"));
        Assert.That(await UsedAsync(tenantId), Is.EqualTo((0L, 0L)), "every VM's quota is released");
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources")).GetArrayLength(), Is.Zero);
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}")).GetProperty("status").GetString(), Is.EqualTo("disabled"),
            "the tenant stays disabled");
    }

    [Test]
    public async Task An_admin_may_not_start_change_or_create_anything_for_a_disabled_tenant()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "parked");
        await RunAsync(tenantId, "vm.power", new { state = "stop" }, vmId);
        await DisableAsync(tenantId);

        await AssertDisabledAsync(await AdminSubmitAsync(tenantId, "vm.power", new { state = "start" }, vmId), "start");
        await AssertDisabledAsync(await AdminSubmitAsync(tenantId, "vm.power", new { state = "restart" }, vmId), "restart");
        await AssertDisabledAsync(await AdminSubmitAsync(tenantId, "vm.edit", new { cpu = 4 }, vmId), "edit");
        await AssertDisabledAsync(await AdminSubmitAsync(tenantId, "vm.create", new { name = "another" }), "create");

        Assert.That(await UsedAsync(tenantId), Is.EqualTo((2L, 1L)), "nothing changed");
    }

    [Test]
    public async Task A_disabled_tenants_own_user_may_not_stop_or_delete_its_vm()
    {
        var tenantId = await TenantAsync();
        var vmId = await CreateAsync(tenantId, "mine");
        using var user = await Tokens.TenantClientAsync(Client, DevHost.Url, "u-" + tenantId, tenantId, "tenant-user-rw");
        await DisableAsync(tenantId);

        await AssertDisabledAsync(await TaskRuns.SubmitAsync(user, tenantId, "vm.power", new { state = "stop" }, vmId, "/api/v1/tenant/tasks"), "the user's stop");
        await AssertDisabledAsync(await TaskRuns.SubmitAsync(user, tenantId, "vm.delete", new { }, vmId, "/api/v1/tenant/tasks"), "the user's delete");

        Assert.That(await UsedAsync(tenantId), Is.EqualTo((2L, 1L)), "the VM is still there and charged");
    }
}
