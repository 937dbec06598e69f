using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>What the saga does with a retry: the link both ways (the retried task records its first retry only) and the admin's exclusions.</summary>
[TestFixture]
[Category("Unit")]
public sealed class RetrySagaTests
{
    private static async Task<TaskState> FailedTaskAsync(SagaHarness harness)
    {
        harness.Agent.Mode = FakeAgentMode.Fail;
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        return await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
    }

    [Test]
    public async Task A_retry_names_the_task_it_retries_and_that_task_records_it_once()
    {
        await using var harness = await SagaHarness.StartAsync();
        var failed = await FailedTaskAsync(harness);
        harness.Agent.Mode = FakeAgentMode.Succeed;

        var retry = SagaHarness.VmCreate() with { RetryOf = failed.CorrelationId };
        await harness.SubmitAsync(retry);

        var succeeded = await harness.WaitForStateAsync(retry.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(succeeded.RetryOf, Is.EqualTo(failed.CorrelationId));
        var linked = await Eventually.Get(() => harness.LoadAsync(failed.CorrelationId), t => t!.RetriedBy is not null, because: "the retried task records its retry");
        Assert.That(linked!.RetriedBy, Is.EqualTo(retry.TaskId));
        Assert.That((linked.CurrentState, linked.Status), Is.EqualTo((nameof(TaskStateMachine.Failed), TaskStatuses.Failed)), "still failed");
        Assert.That(linked.Timeline.Last().Note, Is.EqualTo($"retried by task {retry.TaskId}"));

        // A second retry sent at the same time as the first: it names the task, the task keeps its first retry.
        var second = SagaHarness.VmCreate(name: "web2") with { RetryOf = failed.CorrelationId };
        await harness.SubmitAsync(second);
        await harness.WaitForStateAsync(second.TaskId, nameof(TaskStateMachine.Succeeded));
        await Eventually.True(() => Task.FromResult(harness.Harness.Consumed.Select<TaskRetried>().Any(x => x.Context.Message.RetryId == second.TaskId)),
            because: "the second notice was handled");
        Assert.That((await harness.LoadAsync(failed.CorrelationId))!.RetriedBy, Is.EqualTo(retry.TaskId));
    }

    [Test]
    public async Task A_successful_task_is_never_marked_retried()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));

        await harness.Harness.Bus.Publish(new TaskRetried(submit.TaskId, Guid.NewGuid()));

        await Eventually.True(() => Task.FromResult(harness.Harness.Consumed.Select<TaskRetried>().Any(x => x.Context.Message.TaskId == submit.TaskId)));
        Assert.That((await harness.LoadAsync(submit.TaskId))!.RetriedBy, Is.Null);
    }

    [Test]
    public async Task Excluded_agents_are_never_elected_and_when_none_is_left_the_retry_gets_no_eligible_agent()
    {
        await using var harness = await SagaHarness.StartAsync();
        await harness.HeartbeatAsync("agent-2", new AgentCapacity(8, 16384, 102400));
        // agent-1 has the more free capacity: without the exclusion it would win.
        var excluded = SagaHarness.VmCreate() with { ExcludedAgents = [SagaHarness.AgentId] };

        var response = await harness.SubmitAsync(excluded);

        Assert.That(response.Is(out Response<TaskAccepted>? accepted), Is.True);
        Assert.That(accepted!.Message.AgentId, Is.EqualTo("agent-2"));
        var task = await harness.LoadAsync(excluded.TaskId);
        Assert.That(task!.ExcludedAgents, Is.EqualTo(new[] { SagaHarness.AgentId }));
        Assert.That(task.Placement!.Candidates.Single(c => c.AgentId == SagaHarness.AgentId).Reason, Is.EqualTo("excluded by an admin"));

        var none = SagaHarness.VmCreate(name: "web2") with { ExcludedAgents = [SagaHarness.AgentId, "agent-2"] };
        var refused = await harness.SubmitAsync(none);

        Assert.That(refused.Is(out Response<TaskRejected>? rejected), Is.True);
        Assert.That(rejected!.Message.Code, Is.EqualTo(ErrorCodes.NoEligibleAgent));
    }

    [Test]
    public async Task An_excluded_agent_is_not_chosen_either_when_the_task_is_re_placed_after_its_pickup_window()
    {
        var shortWindow = new Dictionary<string, string?>
        {
            ["Orchestrator:Agents:PickupWindow"] = "00:00:00.400",
            ["Orchestrator:Agents:PickupGrace"] = "00:00:00.100",
        };
        await using var harness = await SagaHarness.StartAsync(settings: shortWindow);
        // agent-2 (nothing consumes its queue) never starts the task; agent-1, which would, is excluded.
        await harness.HeartbeatAsync("agent-2", new AgentCapacity(8, 16384, 102400));
        var submit = SagaHarness.VmCreate() with { ExcludedAgents = [SagaHarness.AgentId] };

        await harness.SubmitAsync(submit);

        var task = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.Attempt >= 2, TimeSpan.FromSeconds(20), "the task is sent again");
        Assert.That(task!.AgentId, Is.EqualTo("agent-2"));
        Assert.That(task.Timeline.Select(t => t.Note ?? ""), Has.Some.Contains("no other agent may take it"));
        lock (harness.Agent.Received)
            Assert.That(harness.Agent.Received.Select(t => t.TaskId), Has.None.EqualTo(submit.TaskId), "agent-1 never had it");
    }
}
