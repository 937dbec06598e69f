using System.Text.Json;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>
/// The pickup window on the saga (fake agent <c>agent-1</c> answers; <c>agent-2</c> has no consumer, as a killed agent): a task not started
/// in time goes to another agent as a new attempt, or back to its only agent without a window, or fails when that agent is offline.
/// </summary>
[TestFixture]
[Category("Unit")]
public sealed class PickupWindowTests
{
    private static readonly Dictionary<string, string?> ShortWindow = new()
    {
        ["Orchestrator:Agents:PickupWindow"] = "00:00:00.400",
        ["Orchestrator:Agents:PickupGrace"] = "00:00:00.100",
    };

    private static Task HeartbeatAsync(SagaHarness harness, string agentId, long cpu)
        => harness.HeartbeatAsync(agentId, new AgentCapacity(cpu, 131072, 1048576));

    [Test]
    public async Task A_task_its_agent_does_not_start_in_time_is_re_placed_on_another_agent_and_succeeds_there_once()
    {
        await using var harness = await SagaHarness.StartAsync(settings: ShortWindow, withAgent: false);
        // agent-2 is the better candidate, but nothing consumes its queue.
        await HeartbeatAsync(harness, "agent-2", cpu: 64);
        await HeartbeatAsync(harness, SagaHarness.AgentId, cpu: 16);
        var submit = SagaHarness.VmCreate(cpu: 2);

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskAccepted>? accepted) && accepted!.Message.AgentId == "agent-2", Is.True, "first placed on agent-2");
        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded), TimeSpan.FromSeconds(20));
        Assert.That((task.AgentId, task.Attempt), Is.EqualTo((SagaHarness.AgentId, 2)));
        Assert.That(task.TriedAgents, Is.EqualTo(new[] { "agent-2" }));
        Assert.That(task.Timeline.Select(t => t.Note ?? ""), Has.Some.Contains("agent-2 did not start the task within 0 s: re-placed on agent-1 (attempt 2)"));
        var sent = harness.Agent.Received.Single(t => t.TaskId == submit.TaskId);
        Assert.That((sent.AgentId, sent.Attempt, sent.NotAfter.HasValue), Is.EqualTo((SagaHarness.AgentId, 2, true)), "the new attempt is fenced too");
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held, usage.VmCount.Used), Is.EqualTo((2L, 0L, 1L)), "charged once");
        var placement = await harness.Get<IAgentStore>().GetPlacementAsync(submit.TaskId);
        Assert.That(placement?.AgentId, Is.EqualTo(SagaHarness.AgentId), "the placement moved with the task (and counts until agent-1's next heartbeat)");
        Assert.That(await harness.Get<IAgentOutbox>().ListAsync(DateTimeOffset.UtcNow.AddHours(1), 10, CancellationToken.None), Is.Empty);
    }

    [Test]
    public async Task A_task_only_its_offline_agent_may_run_fails_ERR_AGENT_UNAVAILABLE_and_gives_everything_back()
    {
        await using var harness = await SagaHarness.StartAsync(settings: ShortWindow, withAgent: false);
        await HeartbeatAsync(harness, "agent-2", cpu: 64);
        await HeartbeatAsync(harness, SagaHarness.AgentId, cpu: 64);
        var submit = SagaHarness.VmCreate() with { Target = new TaskTarget("vm", null, "agent-2") };

        await harness.SubmitAsync(submit);
        // The broker says nobody consumes agent-2's queue any more.
        await harness.Get<IAgentStore>().SetConsumersLostAsync("agent-2", DateTimeOffset.UtcNow);

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed), TimeSpan.FromSeconds(20));
        Assert.That(task.Error!.Code, Is.EqualTo(ErrorCodes.AgentUnavailable));
        Assert.That(task.Error.Message, Does.Contain("nothing consumes its task queue"));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Held, usage.VmCount.Held, usage.VmCount.Used), Is.EqualTo((0L, 0L, 0L)));
        Assert.That(await harness.Get<IAgentStore>().GetPlacementAsync(submit.TaskId), Is.Null);
        Assert.That(await harness.Get<IAgentOutbox>().ListAsync(DateTimeOffset.UtcNow.AddHours(1), 10, CancellationToken.None), Is.Empty);
    }

    [Test]
    public async Task A_task_only_its_online_agent_may_run_is_sent_to_it_again_without_a_window_and_the_stale_attempts_answer_changes_nothing()
    {
        await using var harness = await SagaHarness.StartAsync(settings: ShortWindow);
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate() with { Target = new TaskTarget("vm", null, SagaHarness.AgentId) };

        await harness.SubmitAsync(submit);

        var attempts = await Eventually.Get(() => Task.FromResult(harness.Agent.Received.Where(t => t.TaskId == submit.TaskId).ToList()),
            list => list.Count == 2, TimeSpan.FromSeconds(20), "the task is sent again");
        Assert.That(attempts.Select(t => (t.Attempt, t.NotAfter.HasValue)), Is.EqualTo(new[] { (1, true), (2, false) }));
        await Task.Delay(TimeSpan.FromSeconds(1)); // longer than a window: without one, the task is not sent a third time
        Assert.That(harness.Agent.Received.Count(t => t.TaskId == submit.TaskId), Is.EqualTo(2));

        // The first delivery reaches the agent too late: it answers ERR_EXPIRED for attempt 1, which the task (now on attempt 2) ignores.
        await harness.Harness.Bus.Publish(new AgentTaskResult(submit.TaskId, SagaHarness.AgentId, false, null, new AgentError(ErrorCodes.Expired, "too late"),
            null, DateTimeOffset.UtcNow, Attempt: 1));
        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId) with { Attempt = 2 });

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(task.Attempt, Is.EqualTo(2));
        Assert.That((await harness.UsageAsync()).VmCount.Used, Is.EqualTo(1));
    }

    [Test]
    public async Task A_finished_tasks_capacity_counts_until_a_heartbeat_measured_after_it_shows_it()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false);
        await HeartbeatAsync(harness, SagaHarness.AgentId, cpu: 8);
        await HeartbeatAsync(harness, "agent-2", cpu: 6);
        var first = SagaHarness.VmCreate(name: "first", cpu: 6);
        await harness.SubmitAsync(first);
        var done = await harness.WaitForStateAsync(first.TaskId, nameof(TaskStateMachine.Succeeded));

        // agent-1's heartbeats do not show the new VM yet: its 6 vCPUs still count, so the next 6 go to agent-2.
        var second = SagaHarness.VmCreate(name: "second", cpu: 6);
        var response = await harness.SubmitAsync(second);
        Assert.That(response.Is(out Response<TaskAccepted>? accepted) && accepted!.Message.AgentId == "agent-2", Is.True, "not counted free twice");

        var agents = harness.Get<IAgentStore>();
        await agents.RecordHeartbeatAsync(new AgentHeartbeat("test", SagaHarness.AgentId, done.FinishedAt!.Value.AddMilliseconds(-1), "host-1", [ActionNames.VmCreate],
            new AgentCapacity(8, 131072, 1048576), new AgentCapacity(8, 131072, 1048576), 0), DateTimeOffset.UtcNow);
        Assert.That(await agents.GetPlacementAsync(first.TaskId), Is.Not.Null, "a heartbeat measured before the task finished does not show it");
        await agents.RecordHeartbeatAsync(new AgentHeartbeat("test", SagaHarness.AgentId, done.FinishedAt!.Value.AddSeconds(1), "host-1", [ActionNames.VmCreate],
            new AgentCapacity(8, 131072, 1048576), new AgentCapacity(2, 131072, 1048576), 1), DateTimeOffset.UtcNow);
        Assert.That(await agents.GetPlacementAsync(first.TaskId), Is.Null, "once a heartbeat shows the VM, its placement goes");
    }
}
