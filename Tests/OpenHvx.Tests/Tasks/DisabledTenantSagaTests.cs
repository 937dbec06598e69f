using System.Text.Json;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>The saga's own rule for a disabled tenant, whatever route a submission came by: only an admin's clean-up runs.</summary>
[TestFixture]
[Category("Unit")]
public sealed class DisabledTenantSagaTests
{
    [Test]
    public async Task A_stop_for_a_disabled_tenant_runs_only_when_an_admin_submitted_it()
    {
        await using var harness = await SagaHarness.StartAsync();
        await harness.HeartbeatAsync(capabilities: [ActionNames.VmCreate, ActionNames.VmPower]);
        var create = SagaHarness.VmCreate("web1");
        await harness.SubmitAsync(create);
        var vmId = (await harness.WaitForStateAsync(create.TaskId, nameof(TaskStateMachine.Succeeded))).ResourceId!;
        var tenants = harness.Get<ITenantStore>();
        await tenants.UpsertAsync((await tenants.GetAsync(SagaHarness.TenantId))! with { Status = Tenant.Disabled });
        SubmitTask Stop(bool admin) => new(NewId.NextGuid(), SagaHarness.TenantId, ActionNames.VmPower, new TaskTarget("vm", vmId, null),
            JsonSerializer.SerializeToElement(new { state = "stop" }), "someone", DateTimeOffset.UtcNow, SubmittedByAdmin: admin);

        var byUser = await harness.SubmitAsync(Stop(admin: false));
        var byAdmin = await harness.SubmitAsync(Stop(admin: true));

        Assert.That(byUser.Is(out Response<TaskRejected>? rejected) && rejected!.Message.Code == ErrorCodes.TenantDisabled, Is.True, "not an admin's");
        Assert.That(byAdmin.Is(out Response<TaskAccepted>? _), Is.True, "an admin's clean-up");
    }
}
