using System.Text.Json;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>
/// Reconciliation with the saga on the in-memory bus: the periodic inventory's consumer marks a VM gone and publishes the change;
/// then only vm.delete may target it (ERR_RESOURCE_GONE otherwise), and the delete releases nothing a second time.
/// </summary>
[TestFixture]
[Category("Unit")]
public sealed class ReconciliationSagaTests
{
    private static SubmitTask OnVm(string action, string vmId, object data)
        => new(NewId.NextGuid(), SagaHarness.TenantId, action, new TaskTarget("vm", vmId, null), JsonSerializer.SerializeToElement(data), "test", DateTimeOffset.UtcNow);

    private static QuotaAmounts Used(QuotaUsage usage) => new(usage.Cpu.Used, usage.MemoryMB.Used, usage.StorageMB.Used, usage.VmCount.Used);

    [Test]
    public async Task A_vm_the_periodic_inventory_no_longer_shows_is_gone_refuses_other_actions_and_is_deleted_without_a_second_release()
    {
        await using var harness = await SagaHarness.StartAsync();
        await harness.HeartbeatAsync(capabilities: [ActionNames.VmCreate, ActionNames.VmPower, ActionNames.VmDelete]);
        var create = SagaHarness.VmCreate("web1");
        await harness.SubmitAsync(create);
        var vmId = (await harness.WaitForStateAsync(create.TaskId, nameof(TaskStateMachine.Succeeded))).ResourceId!;
        Assert.That(Used(await harness.UsageAsync()), Is.EqualTo(new QuotaAmounts(2, 2048, 10240, 1)));

        var collectedAt = DateTimeOffset.UtcNow.AddSeconds(1);
        var inventory = JsonSerializer.SerializeToElement(new { schemaVersion = "1.0.0", collectedAt = collectedAt.ToString("O"), vms = Array.Empty<object>() });
        await harness.Harness.Bus.Publish(new AgentInventory(SagaHarness.AgentId, collectedAt, inventory));

        var gone = await Eventually.Get(async () => (await harness.ResourcesAsync()).Single(), r => r.State == ResourceStates.Gone, because: "the inventory is reconciled");
        Assert.That(gone.ResourceId, Is.EqualTo(vmId));
        Assert.That(Used(await harness.UsageAsync()), Is.EqualTo(QuotaAmounts.Zero), "its charge is released");
        Assert.That(await harness.Harness.Published.Any<ResourceChanged>(m => m.Context.Message.ResourceId == vmId && m.Context.Message.Change == ResourceChanges.Gone),
            Is.True, "the change is published on the bus");

        foreach (var (action, data) in new (string, object)[] { (ActionNames.VmPower, new { state = "start" }), (ActionNames.VmEdit, new { cpu = 4 }) })
        {
            var refused = await harness.SubmitAsync(OnVm(action, vmId, data));
            Assert.That(refused.Is(out Response<TaskRejected>? rejected), Is.True, action);
            Assert.That(rejected!.Message.Code, Is.EqualTo(ErrorCodes.ResourceGone), action);
        }

        var delete = OnVm(ActionNames.VmDelete, vmId, new { });
        Assert.That((await harness.SubmitAsync(delete)).Is(out Response<TaskAccepted>? _), Is.True);
        var deleted = await harness.WaitForStateAsync(delete.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(deleted.QuotaDeltas, Is.EqualTo(QuotaAmounts.Zero), "nothing left to release");
        Assert.That(Used(await harness.UsageAsync()), Is.EqualTo(QuotaAmounts.Zero), "released once, not twice");
        Assert.That(await harness.ResourcesAsync(), Is.Empty, "unlinked");
    }
}
