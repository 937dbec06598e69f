using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

/// <summary>
/// Reconciliation end to end in DevHost: VMs deleted, resized and made out of band on the simulated host (its own cmdlets), then
/// inventory.refresh; the resources, quota usage, recount's report, the unmanaged list and the events follow the host.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class ReconciliationEndToEndTests : DevHostFixture
{
    private async Task<string> TenantAsync()
    {
        var tenantId = "rec-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return tenantId;
    }

    private Task<HttpResponseMessage> SubmitAsync(string tenantId, string action, object data, string? vmId = null)
        => TaskRuns.SubmitAsync(Client, tenantId, action, data, vmId);

    private Task<JsonElement> RunAsync(string tenantId, string action, object data, string? vmId = null) => TaskRuns.RunAsync(Client, tenantId, action, data, vmId);

    private Task<string> CreateAsync(string tenantId, string name) => TaskRuns.CreateVmAsync(Client, tenantId, name);

    /// <summary>A Hyper-V cmdlet run on the agent's host behind the platform's back.</summary>
    private async Task OutOfBandAsync(string command, params (string Name, object Value)[] parameters)
    {
        var runner = DevHost.Services.GetRequiredService<PowerShellRunner>();
        var outcome = await runner.RunAsync(command, parameters.Select(p => new KeyValuePair<string, object?>(p.Name, p.Value)).ToList(), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.That(outcome.Ok, Is.True, $"{command}: {outcome.Error?.Message}");
    }

    private static (long Cpu, long Memory, long Storage, long Vms) Used(JsonElement usage)
        => (usage.GetProperty("cpu").GetProperty("used").GetInt64(), usage.GetProperty("memoryMB").GetProperty("used").GetInt64(),
            usage.GetProperty("storageMB").GetProperty("used").GetInt64(), usage.GetProperty("vmCount").GetProperty("used").GetInt64());

    private static (long Cpu, long Memory) Size(JsonElement amounts) => (amounts.GetProperty("cpu").GetInt64(), amounts.GetProperty("memoryMB").GetInt64());

    [Test]
    public async Task A_vm_deleted_and_one_resized_out_of_band_are_marked_gone_and_recharged_after_inventory_refresh()
    {
        var events = new ConcurrentQueue<ResourceChanged>();
        var connector = DevHost.Services.GetRequiredService<IReceiveEndpointConnector>();
        var subscription = connector.ConnectReceiveEndpoint("reconciliation-test-events", (_, endpoint) => endpoint.Handler<ResourceChanged>(context =>
        {
            events.Enqueue(context.Message);
            return Task.CompletedTask;
        }));
        await subscription.Ready;

        var tenantId = await TenantAsync();
        var lostId = await CreateAsync(tenantId, "lost");
        var keptId = await CreateAsync(tenantId, "kept");
        await OutOfBandAsync("Remove-VM", ("Name", $"{tenantId}.lost"), ("Force", true));
        await OutOfBandAsync("Stop-VM", ("Name", $"{tenantId}.kept"), ("TurnOff", true));
        await OutOfBandAsync("Set-VM", ("Name", $"{tenantId}.kept"), ("ProcessorCount", 4L), ("MemoryStartupBytes", 4096L * 1024 * 1024));
        var handmade = "handmade-" + Guid.NewGuid().ToString("N")[..6];
        await OutOfBandAsync("New-VM", ("Name", handmade), ("MemoryStartupBytes", 1024L * 1024 * 1024), ("NoVHD", true));

        await RunAsync("test1", "inventory.refresh", new { });

        var resources = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources")).EnumerateArray()
            .ToDictionary(r => r.GetProperty("resourceId").GetString()!);
        Assert.That(resources[lostId].GetProperty("state").GetString(), Is.EqualTo("gone"), "the resource stays, marked gone");
        Assert.That(resources[lostId].GetProperty("goneAt").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(resources[keptId].GetProperty("state").GetString(), Is.EqualTo("present"));
        Assert.That(Size(resources[keptId].GetProperty("charge")), Is.EqualTo((4L, 4096L)), "charged its real size");

        var usage = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        Assert.That(Used(usage), Is.EqualTo((4L, 4096L, 10240L, 1L)), "the gone VM's charge is released, the resized one's corrected");

        var recount = await Client.PostAsync($"/api/v1/admin/tenants/{tenantId}/quotas/recount", null);
        Assert.That(recount.StatusCode, Is.EqualTo(HttpStatusCode.OK), await recount.Content.ReadAsStringAsync());
        var report = await recount.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(report.GetProperty("corrected").GetBoolean(), Is.False, report.ToString());
        Assert.That(report.GetProperty("drift").EnumerateObject().Select(p => p.Value.GetInt64()), Is.All.Zero, "ledger and resources agree");
        var reconciled = report.GetProperty("reconciled").EnumerateArray().ToDictionary(r => r.GetProperty("resourceId").GetString()!);
        Assert.That(reconciled.Keys, Is.EquivalentTo(new[] { lostId, keptId }));
        Assert.That(reconciled[lostId].GetProperty("change").GetString(), Is.EqualTo("gone"));
        Assert.That(Size(reconciled[lostId].GetProperty("before")), Is.EqualTo((2L, 2048L)));
        Assert.That(reconciled[lostId].GetProperty("after").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(reconciled[keptId].GetProperty("change").GetString(), Is.EqualTo("resized"));
        Assert.That((Size(reconciled[keptId].GetProperty("before")), Size(reconciled[keptId].GetProperty("after"))), Is.EqualTo(((2L, 2048L), (4L, 4096L))));

        var unmanaged = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/agents/{TestDevHost.AgentId}/unmanaged-vms");
        Assert.That(unmanaged.GetProperty("vms").EnumerateArray().Select(v => v.GetProperty("name").GetString()), Does.Contain(handmade));
        Assert.That(unmanaged.GetProperty("vms").EnumerateArray().Select(v => v.GetProperty("vmId").GetString()), Does.Not.Contain(keptId), "a linked VM is managed");

        // An unmanaged VM is reported once a second inventory still shows it (a first sighting may be a VM being created).
        await RunAsync("test1", "inventory.refresh", new { });
        var seen = await Eventually.Get(() => Task.FromResult(events.ToList()),
            list => list.Any(e => e.ResourceId == lostId) && list.Any(e => e.ResourceId == keptId) && list.Any(e => e.Name == handmade), because: "the three changes are published");
        Assert.That(seen.Where(e => e.TenantId == tenantId).Select(e => (e.ResourceId, e.Change)),
            Is.EquivalentTo(new[] { (lostId, "gone"), (keptId, "resized") }));
        Assert.That(seen.Single(e => e.Name == handmade).TenantId, Is.EqualTo("_unmanaged"));
        await subscription.StopAsync();

        var power = await SubmitAsync(tenantId, "vm.power", new { state = "start" }, lostId);
        Assert.That(power.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity), await power.Content.ReadAsStringAsync());
        Assert.That((await power.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_RESOURCE_GONE"));
        await RunAsync(tenantId, "vm.delete", new { }, lostId);
        Assert.That(Used(await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas")), Is.EqualTo((4L, 4096L, 10240L, 1L)),
            "deleting a gone VM releases nothing twice");
        Assert.That((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/resources")).GetArrayLength(), Is.EqualTo(1));
    }
}
