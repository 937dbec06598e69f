using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Tests.Tasks;

[TestFixture]
[Category("Unit")]
public sealed class TaskStateMachineTests
{
    [Test]
    public async Task Success_commits_the_quota_hold_and_links_the_vm()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate(cpu: 2, ram: "4GB");

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskAccepted>? accepted), Is.True);
        Assert.That(accepted!.Message.AgentId, Is.EqualTo(SagaHarness.AgentId));
        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(task.Status, Is.EqualTo(TaskStatuses.Succeeded));
        Assert.That(task.QuotaHold, Is.EqualTo(QuotaHoldStatuses.Committed));
        Assert.That(task.Timeline.Select(t => t.State), Is.SupersetOf(new[] { "Validating", "Electing", "Enriching", "HoldingQuota", "Dispatching", "AwaitingResult", "Succeeded" }));
        Assert.That(task.Placement!.AgentId, Is.EqualTo(SagaHarness.AgentId));

        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.MemoryMB.Used, usage.StorageMB.Used, usage.VmCount.Used), Is.EqualTo((2L, 4096L, 10240L, 1L)));
        Assert.That((usage.Cpu.Held, usage.VmCount.Held), Is.EqualTo((0L, 0L)));
        var resources = await harness.ResourcesAsync();
        Assert.That(resources, Has.Count.EqualTo(1));
        Assert.That((resources[0].Name, resources[0].AgentId, resources[0].ResourceId), Is.EqualTo(("web1", SagaHarness.AgentId, task.ResourceId)));

        await Eventually.True(() => Task.FromResult(harness.Harness.Published.Select<TaskStateChanged>()
            .Any(x => x.Context.Message.TaskId == submit.TaskId && x.Context.Message.To == "Succeeded")), because: "TaskStateChanged to Succeeded is published");
    }

    [Test]
    public async Task Every_transition_publishes_TaskStateChanged()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));

        var changes = await Eventually.Get(
            () => Task.FromResult(harness.Harness.Published.Select<TaskStateChanged>().Select(x => x.Context.Message).Where(m => m.TaskId == submit.TaskId).ToList()),
            list => list.Any(c => c.To == "Succeeded"), because: "the last transition is published");
        Assert.That(changes.Select(c => (c.To, c.Status)), Is.EqualTo(new[]
        {
            ("Validating", "pending"), ("Electing", "pending"), ("Enriching", "pending"), ("HoldingQuota", "pending"), ("Dispatching", "pending"),
            ("AwaitingResult", "sent"), ("AwaitingResult", "running"), ("Succeeded", "SUCCESS"),
        }), "every transition, in order, the agent's start included");
        Assert.That(changes.Single(c => c.To == "Succeeded").Status, Is.EqualTo(TaskStatuses.Succeeded));
    }

    [Test]
    public async Task Agent_failure_fails_the_task_and_releases_the_hold()
    {
        await using var harness = await SagaHarness.StartAsync();
        harness.Agent.Mode = FakeAgentMode.Fail;
        var submit = SagaHarness.VmCreate();

        await harness.SubmitAsync(submit);

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That(task.Error!.Code, Is.EqualTo("ERR_SIMULATED_FAULT"));
        Assert.That(task.QuotaHold, Is.EqualTo(QuotaHoldStatuses.Released));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held, usage.VmCount.Held), Is.EqualTo((0L, 0L, 0L)));
        Assert.That(await harness.ResourcesAsync(), Is.Empty);
    }

    [Test]
    public async Task No_eligible_agent_is_rejected_with_its_code_and_leaves_no_hold()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false);
        var submit = SagaHarness.VmCreate();

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskRejected>? rejected), Is.True);
        Assert.That(rejected!.Message.Code, Is.EqualTo(ErrorCodes.NoEligibleAgent));
        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That(task.QuotaHold, Is.Null);
        Assert.That((await harness.UsageAsync()).Cpu.Held, Is.Zero);
        Assert.That(harness.Agent.Received, Is.Empty);
    }

    [Test]
    public async Task A_burst_is_spread_over_agents_by_the_capacity_in_flight_tasks_already_hold()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false);
        harness.Agent.Mode = FakeAgentMode.Silent;
        var agents = harness.Get<OpenHvx.Orchestrator.Agents.IAgentStore>();
        foreach (var id in new[] { "agent-1", "agent-2" })
            await agents.RecordHeartbeatAsync(new AgentHeartbeat("t", id, DateTimeOffset.UtcNow, "h", [ActionNames.VmCreate],
                new AgentCapacity(8, 65536, 1048576), new AgentCapacity(8, 65536, 1048576), 0, IntervalSeconds: 15), DateTimeOffset.UtcNow);

        var burst = Enumerable.Range(0, 2).Select(i => SagaHarness.VmCreate(name: $"burst{i}", cpu: 6)).ToList();
        var answers = await Task.WhenAll(burst.Select(harness.SubmitAsync));

        var placed = answers.Select(a => a.Is(out Response<TaskAccepted>? ok) ? ok!.Message.AgentId : "rejected").ToList();
        Assert.That(placed, Is.EquivalentTo(new[] { "agent-1", "agent-2" }), "6 of 8 vCPUs held on one agent leaves no room for a second 6");
    }

    [Test]
    public async Task Stale_agent_is_not_elected_and_the_reason_is_stored()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false);
        await harness.Get<OpenHvx.Orchestrator.Agents.IAgentStore>().RecordHeartbeatAsync(
            new AgentHeartbeat("t", SagaHarness.AgentId, DateTimeOffset.UtcNow, "h", [ActionNames.VmCreate], new AgentCapacity(8, 8192, 100000), new AgentCapacity(8, 8192, 100000), 0),
            DateTimeOffset.UtcNow.AddMinutes(-5));
        var submit = SagaHarness.VmCreate();

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskRejected>? rejected) && rejected!.Message.Code == ErrorCodes.NoEligibleAgent, Is.True);
        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That(task.Placement!.Candidates.Single().Reason, Does.StartWith("offline: no heartbeat for"));
    }

    [Test]
    public async Task Quota_exceeded_is_rejected_with_its_code_and_leaves_no_hold()
    {
        await using var harness = await SagaHarness.StartAsync(limits: new QuotaAmounts(1, -1, -1, -1));
        var submit = SagaHarness.VmCreate(cpu: 2);

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskRejected>? rejected), Is.True);
        Assert.That(rejected!.Message.Code, Is.EqualTo(ErrorCodes.QuotaExceeded));
        var exceeded = rejected.Message.Details!.Value.GetProperty("exceeded")[0];
        Assert.That(exceeded.GetProperty("resource").GetString(), Is.EqualTo("cpu"));
        Assert.That(exceeded.GetProperty("requested").GetInt64(), Is.EqualTo(2));
        Assert.That(exceeded.GetProperty("limit").GetInt64(), Is.EqualTo(1));
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held), Is.EqualTo((0L, 0L)));
        Assert.That(harness.Agent.Received, Is.Empty);
    }

    [Test]
    public async Task Unknown_image_is_rejected_with_ERR_IMAGE_NOT_FOUND()
    {
        await using var harness = await SagaHarness.StartAsync();
        var response = await harness.SubmitAsync(SagaHarness.VmCreate(image: "nope.latest"));

        Assert.That(response.Is(out Response<TaskRejected>? rejected) && rejected!.Message.Code == ErrorCodes.ImageNotFound, Is.True);
    }

    [Test]
    public async Task Missed_AwaitingResult_deadline_fails_the_task_and_releases_the_hold()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?> { ["Orchestrator:Deadlines:AwaitingResult"] = "00:00:00.300" });
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();

        await harness.SubmitAsync(submit);

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That(task.Error!.Code, Is.EqualTo("ERR_DEADLINE_AWAITINGRESULT"));
        Assert.That(task.QuotaHold, Is.EqualTo(QuotaHoldStatuses.Released));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task An_expired_hold_is_released_by_the_sweeper_and_the_late_success_is_charged_and_flagged()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?> { ["Orchestrator:HoldTtl:vm.create"] = "00:00:00.300" },
            limits: new QuotaAmounts(2, -1, -1, -1));
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate(cpu: 2);
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.AwaitingResult));

        await Eventually.True(async () => (await harness.UsageAsync()).Cpu.Held == 0, because: "the sweeper expires the hold");
        // The limit is free again: another task may take it meanwhile.
        var other = SagaHarness.VmCreate(name: "web2", cpu: 2);
        Assert.That((await harness.SubmitAsync(other)).Is(out Response<TaskAccepted>? _), Is.True);

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId));

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That((task.QuotaHold, task.QuotaHoldLapsed, task.QuotaOverLimit), Is.EqualTo((QuotaHoldStatuses.Committed, true, true)));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held), Is.EqualTo((2L, 2L)), "charged above the limit rather than left untracked");
    }

    [Test]
    public async Task A_duplicate_result_changes_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        await harness.Harness.InactivityTask;
        var done = (await harness.LoadAsync(submit.TaskId))!;

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId, Guid.NewGuid(), "other"));
        await ConsumedAsync(harness, x => x.Context.Message.Result!.Value.GetProperty("vm").GetProperty("name").GetString() == "other");
        await harness.Harness.InactivityTask;

        var after = (await harness.LoadAsync(submit.TaskId))!;
        Assert.That(after.Version, Is.EqualTo(done.Version));
        Assert.That(after.ResourceId, Is.EqualTo(done.ResourceId));
        Assert.That(await harness.ResourcesAsync(), Has.Count.EqualTo(1));
        Assert.That((await harness.UsageAsync()).Cpu.Used, Is.EqualTo(2));
    }

    [Test]
    public async Task A_result_from_another_agent_is_ignored()
    {
        await using var harness = await SagaHarness.StartAsync();
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.AwaitingResult));

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, "intruder"));
        await ConsumedAsync(harness, x => x.Context.Message.AgentId == "intruder");
        await harness.Harness.InactivityTask;

        Assert.That((await harness.LoadAsync(submit.TaskId))!.CurrentState, Is.EqualTo(nameof(TaskStateMachine.AwaitingResult)));
    }

    [Test]
    public async Task A_result_for_an_unknown_task_creates_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var phantom = Guid.NewGuid();

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(phantom, SagaHarness.AgentId));
        await ConsumedAsync(harness, x => x.Context.Message.TaskId == phantom);
        await harness.Harness.InactivityTask;

        Assert.That(await harness.LoadAsync(phantom), Is.Null);
    }

    [Test]
    public async Task A_late_success_after_a_deadline_failure_commits_quota_and_links_the_vm_flagged()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?> { ["Orchestrator:Deadlines:AwaitingResult"] = "00:00:00.200" });
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That((await harness.UsageAsync()).Cpu.Used, Is.Zero);

        var vmId = Guid.NewGuid();
        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId, vmId));

        var task = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.LateSuccess);
        Assert.That(task!.CurrentState, Is.EqualTo(nameof(TaskStateMachine.Failed)));
        Assert.That(task.QuotaHold, Is.EqualTo(QuotaHoldStatuses.Committed));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.VmCount.Used), Is.EqualTo((2L, 1L)));
        var resource = (await harness.ResourcesAsync()).Single();
        Assert.That((resource.ResourceId, resource.Late), Is.EqualTo((vmId.ToString(), true)));
    }

    [Test]
    public async Task Fifty_concurrent_events_on_one_task_are_all_applied()
    {
        await using var harness = await SagaHarness.StartAsync();
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.AwaitingResult));

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            harness.Harness.Bus.Publish(new AgentTaskProgress(submit.TaskId, SagaHarness.AgentId, $"step {i}", DateTimeOffset.UtcNow))));

        var task = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.Progress.Count == 50, because: "50 progress notes");
        Assert.That(task!.Progress.Select(p => p.Message), Is.EquivalentTo(Enumerable.Range(0, 50).Select(i => $"step {i}")));
    }

    [Test]
    public async Task A_duplicate_submission_of_one_task_id_creates_one_task()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate();

        await Task.WhenAll(harness.Harness.Bus.Publish(submit), harness.Harness.Bus.Publish(submit));
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        await harness.Harness.InactivityTask;

        Assert.That(harness.Agent.Received.Count(t => t.TaskId == submit.TaskId), Is.EqualTo(1));
        Assert.That((await harness.UsageAsync()).VmCount.Used, Is.EqualTo(1));
    }

    /// <summary>Waits until the bus has consumed a matching result (the harness's own Any returns at once once the bus went idle).</summary>
    // Polls what was consumed so far (a cancelled token: no waiting inside the harness). Leaving the synchronous Select early
    // (LINQ Any over it) can deadlock in its enumerator's Dispose, and the harness's own wait ends at once when it is idle.
    private static Task ConsumedAsync(SagaHarness harness, Func<MassTransit.Testing.IReceivedMessage<AgentTaskResult>, bool> match)
        => Eventually.True(() => harness.Harness.Consumed.Any<AgentTaskResult>(x => match(x), new CancellationToken(canceled: true)), because: "the result is consumed");
}
