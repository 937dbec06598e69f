using System.Text.Json;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>
/// Cancel on the saga (MassTransit request/response as the API sends it), with the fake agent <c>agent-1</c> silent: each test answers
/// for it, so that every outcome of a cancel is reached on purpose.
/// </summary>
[TestFixture]
[Category("Unit")]
public sealed class TaskCancelTests
{
    private const string Canceling = nameof(TaskStateMachine.Canceling);
    private const string Canceled = nameof(TaskStateMachine.Canceled);

    /// <summary>A 2-vCPU, 4 GB create dispatched to the silent agent (and started there when asked).</summary>
    private static async Task<SubmitTask> DispatchedAsync(SagaHarness harness, bool started = false)
    {
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate(cpu: 2, ram: "4GB");
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.AwaitingResult));
        if (started)
        {
            await harness.Harness.Bus.Publish(new AgentTaskStarted(submit.TaskId, SagaHarness.AgentId, DateTimeOffset.UtcNow));
            await Eventually.True(async () => (await harness.LoadAsync(submit.TaskId))!.Status == TaskStatuses.Running, because: "the agent started the task");
        }
        return submit;
    }

    private static async Task<TaskCancelAnswered> CancelAsync(SagaHarness harness, Guid taskId, bool byAdmin = false)
    {
        var response = await harness.CancelAsync(taskId, byAdmin: byAdmin);
        Assert.That(response.Is(out Response<TaskCancelAnswered>? answered), Is.True, "an answer about the task");
        return answered!.Message;
    }

    private static AgentTaskResult CanceledByAgent(Guid taskId, DateTimeOffset? startedAt)
        => new(taskId, SagaHarness.AgentId, false, null, new AgentError(ErrorCodes.Canceled, "stopped",
            JsonSerializer.SerializeToElement(new { cleanup = new { removedVms = new[] { "x" } } })), startedAt, DateTimeOffset.UtcNow, 1);

    private static int CancelsSent(SagaHarness harness, Guid taskId)
        => harness.Harness.Sent.Select<AgentTaskCancel>().Count(m => m.Context.Message.TaskId == taskId);

    private static IEnumerable<string> Notes(TaskState task) => task.Timeline.Select(e => e.Note ?? "");

    /// <summary>No quota used or held, no placement, nothing in the outbox, no VM linked.</summary>
    private static async Task AssertNothingKeptAsync(SagaHarness harness, Guid taskId)
    {
        var usage = await harness.UsageAsync();
        Assert.That(new[] { usage.Cpu, usage.MemoryMB, usage.StorageMB, usage.VmCount }.Select(l => (l.Used, l.Held)), Has.All.EqualTo((0L, 0L)));
        Assert.That(await harness.Get<IAgentStore>().GetPlacementAsync(taskId), Is.Null, "the placement is let go");
        Assert.That(await harness.Get<IAgentOutbox>().ListAsync(DateTimeOffset.UtcNow.AddHours(1), 10, CancellationToken.None), Is.Empty);
        Assert.That(await harness.ResourcesAsync(), Is.Empty);
    }

    [Test]
    public async Task A_dispatched_task_waits_in_canceling_for_its_agent_and_the_agents_ERR_CANCELED_ends_it_CANCELED_with_everything_given_back()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness, started: true);

        var answer = await CancelAsync(harness, submit.TaskId);

        Assert.That((answer.Status, answer.State, answer.AlreadyFinal), Is.EqualTo((TaskStatuses.Canceling, Canceling, false)));
        var cancel = (await Eventually.Get(() => Task.FromResult(harness.Agent.Cancels.ToList()), list => list.Count == 1, because: "the agent is asked to stop")).Single();
        Assert.That((cancel.TaskId, cancel.AgentId, cancel.TenantId, cancel.Action, cancel.Attempt),
            Is.EqualTo((submit.TaskId, SagaHarness.AgentId, SagaHarness.TenantId, ActionNames.VmCreate, 1)));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Held, usage.VmCount.Held), Is.EqualTo((2L, 1L)), "held until the agent answers");
        Assert.That(await harness.Get<IAgentStore>().GetPlacementAsync(submit.TaskId), Is.Not.Null, "placed until the agent answers");

        await harness.Harness.Bus.Publish(CanceledByAgent(submit.TaskId, DateTimeOffset.UtcNow));

        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled);
        Assert.That(task.Status, Is.EqualTo(TaskStatuses.Canceled));
        Assert.That((task.Error!.Code, task.Error.FromAgent, task.QuotaHold, task.DeadlineAt), Is.EqualTo((ErrorCodes.Canceled, true, QuotaHoldStatuses.Released, (DateTimeOffset?)null)));
        Assert.That(task.Error.Details!.Value.GetProperty("cleanup").GetProperty("removedVms")[0].GetString(), Is.EqualTo("x"), "the agent's cleanup is kept for admins");
        Assert.That(task.CancelRequestedBy, Is.EqualTo("alice"));
        Assert.That(Notes(task), Has.Some.EqualTo("cancel requested by user alice: its agent was asked to stop the task")
            .And.Some.EqualTo("its agent confirmed: it stopped the task's script and removed what the task had built"));
        await AssertNothingKeptAsync(harness, submit.TaskId);

        var changes = await Eventually.Get(
            () => Task.FromResult(harness.Harness.Published.Select<TaskStateChanged>().Select(x => x.Context.Message).Where(m => m.TaskId == submit.TaskId).ToList()),
            list => list.Any(c => c.To == Canceled), because: "the move to Canceled is published");
        Assert.That(changes.TakeLast(2).Select(c => (c.From, c.To, c.Status, c.ErrorCode)), Is.EqualTo(new[]
        {
            ("AwaitingResult", Canceling, TaskStatuses.Canceling, (string?)null), (Canceling, Canceled, TaskStatuses.Canceled, ErrorCodes.Canceled),
        }));

        // The name is free again.
        harness.Agent.Mode = FakeAgentMode.Succeed;
        var again = SagaHarness.VmCreate();
        await harness.SubmitAsync(again);
        Assert.That((await harness.WaitForStateAsync(again.TaskId, nameof(TaskStateMachine.Succeeded))).Status, Is.EqualTo(TaskStatuses.Succeeded));
    }

    [Test]
    public async Task A_success_that_comes_while_canceling_ends_the_task_SUCCESS_charged_and_linked()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness, started: true);
        await CancelAsync(harness, submit.TaskId);

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId));

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That((task.Status, task.QuotaHold, task.LateSuccess), Is.EqualTo((TaskStatuses.Succeeded, QuotaHoldStatuses.Committed, false)));
        Assert.That(Notes(task), Has.Some.EqualTo("its agent had finished the task before the cancel reached it"));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.MemoryMB.Used, usage.VmCount.Used, usage.Cpu.Held, usage.VmCount.Held), Is.EqualTo((2L, 4096L, 1L, 0L, 0L)));
        Assert.That((await harness.ResourcesAsync()).Single().ResourceId, Is.EqualTo(task.ResourceId));
    }

    [Test]
    public async Task Another_failure_that_comes_while_canceling_fails_the_task_with_its_code()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness, started: true);
        await CancelAsync(harness, submit.TaskId);

        await harness.Harness.Bus.Publish(new AgentTaskResult(submit.TaskId, SagaHarness.AgentId, false, null, new AgentError("ERR_SIMULATED_FAULT", "injected"),
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 1));

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That((task.Status, task.Error!.Code), Is.EqualTo((TaskStatuses.Failed, "ERR_SIMULATED_FAULT")));
        await AssertNothingKeptAsync(harness, submit.TaskId);
    }

    [Test]
    public async Task A_second_cancel_while_canceling_gets_the_same_answer_and_changes_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness, started: true);
        var first = await CancelAsync(harness, submit.TaskId);
        var before = await harness.LoadAsync(submit.TaskId);

        var second = await CancelAsync(harness, submit.TaskId, byAdmin: true);

        Assert.That(second, Is.EqualTo(first));
        var after = await harness.LoadAsync(submit.TaskId);
        Assert.That((after!.Version, after.Timeline.Count, after.CancelRequestedBy), Is.EqualTo((before!.Version, before.Timeline.Count, "alice")), "the task did not change");
        await harness.Harness.Bus.Publish(CanceledByAgent(submit.TaskId, DateTimeOffset.UtcNow));
        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled);
        // Everything the second cancel could have sent left before the agent's answer was handled (one task's messages go one at a time).
        Assert.That(CancelsSent(harness, submit.TaskId), Is.EqualTo(1), "the agent was asked once");
        Assert.That(Notes(task).Count(n => n.StartsWith("cancel requested", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public async Task A_cancel_of_a_task_that_has_ended_answers_already_final_and_changes_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        var done = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));

        var answer = await CancelAsync(harness, submit.TaskId);

        Assert.That((answer.Status, answer.State, answer.AlreadyFinal), Is.EqualTo((TaskStatuses.Succeeded, nameof(TaskStateMachine.Succeeded), true)));
        Assert.That((await harness.LoadAsync(submit.TaskId))!.Version, Is.EqualTo(done.Version));
        Assert.That(CancelsSent(harness, submit.TaskId), Is.Zero);
    }

    [Test]
    public async Task A_cancel_of_an_unknown_task_answers_not_found_and_creates_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var id = Guid.NewGuid();

        var response = await harness.CancelAsync(id);

        Assert.That(response.Is(out Response<TaskNotFound>? missing) && missing!.Message.TaskId == id, Is.True);
        Assert.That(await harness.LoadAsync(id), Is.Null);
    }

    [Test]
    public async Task A_task_its_agent_has_not_started_is_CANCELED_when_its_pickup_window_closes_without_an_answer()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Orchestrator:Agents:PickupWindow"] = "00:00:02",
            ["Orchestrator:Agents:PickupGrace"] = "00:00:00.200",
        });
        var submit = await DispatchedAsync(harness);
        var dispatched = await harness.LoadAsync(submit.TaskId);

        await CancelAsync(harness, submit.TaskId);
        var canceling = await harness.LoadAsync(submit.TaskId);
        Assert.That(canceling!.DeadlineAt, Is.EqualTo(dispatched!.PickupBy), "it waits until its pickup window closes");

        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled, TimeSpan.FromSeconds(20));
        Assert.That((task.Error!.Code, task.Error.FromAgent), Is.EqualTo((ErrorCodes.Canceled, false)));
        Assert.That(task.Error.Message, Does.Contain("did not start the task within its pickup window"));
        Assert.That(task.Attempt, Is.EqualTo(1), "never re-placed");
        await AssertNothingKeptAsync(harness, submit.TaskId);
    }

    [Test]
    public async Task The_pickup_expiry_of_the_current_attempt_while_canceling_cancels_the_task_and_that_of_another_attempt_changes_nothing()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness);
        await CancelAsync(harness, submit.TaskId);

        await harness.Harness.Bus.Publish(new TaskPickupExpired(submit.TaskId, 2));
        Assert.That(await harness.Harness.Consumed.Any<TaskPickupExpired>(x => x.Context.Message.Attempt == 2), Is.True);
        Assert.That((await harness.LoadAsync(submit.TaskId))!.CurrentState, Is.EqualTo(Canceling), "another attempt's expiry changes nothing");

        await harness.Harness.Bus.Publish(new TaskPickupExpired(submit.TaskId, 1));

        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled);
        Assert.That(task.Error!.Message, Does.Contain("did not start the task within its pickup window"));
        await AssertNothingKeptAsync(harness, submit.TaskId);
    }

    [Test]
    public async Task The_agents_start_while_canceling_asks_it_again_and_gives_the_task_a_running_tasks_wait()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness);
        await CancelAsync(harness, submit.TaskId);
        var before = await harness.LoadAsync(submit.TaskId);

        await harness.Harness.Bus.Publish(new AgentTaskStarted(submit.TaskId, SagaHarness.AgentId, DateTimeOffset.UtcNow));

        var task = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.StartedAt is not null, because: "the start is recorded");
        Assert.That((task!.CurrentState, task.Status), Is.EqualTo((Canceling, TaskStatuses.Canceling)));
        Assert.That(task.DeadlineAt, Is.GreaterThan(before!.PickupBy!.Value.AddMinutes(20)), "no longer ends with the pickup window");
        Assert.That(Notes(task), Has.Some.EqualTo("its agent had started the task when the cancel reached it: asked again to stop it"));
        await Eventually.True(() => Task.FromResult(CancelsSent(harness, submit.TaskId) == 2), because: "the agent is asked again");
    }

    [Test]
    public async Task A_deadline_while_canceling_cancels_the_task_and_a_success_the_agent_reports_later_is_still_charged_and_linked()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?> { ["Orchestrator:Deadlines:AwaitingResult"] = "00:00:02" });
        var submit = await DispatchedAsync(harness, started: true);
        await CancelAsync(harness, submit.TaskId);

        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled, TimeSpan.FromSeconds(20));
        Assert.That(task.Error!.Message, Does.Contain("did not confirm by the task's deadline"));
        await AssertNothingKeptAsync(harness, submit.TaskId);

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId));

        var late = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.LateSuccess, because: "the late success is settled");
        Assert.That((late!.CurrentState, late.Status, late.QuotaHold), Is.EqualTo((Canceled, TaskStatuses.Canceled, QuotaHoldStatuses.Committed)));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.VmCount.Used, usage.Cpu.Held), Is.EqualTo((2L, 1L, 0L)), "what the agent built is charged");
        Assert.That((await harness.ResourcesAsync()).Single().ResourceId, Is.EqualTo(late.ResourceId), "and linked");
        var lateEvent = await Eventually.Get(
            () => Task.FromResult(harness.Harness.Published.Select<TaskStateChanged>().Select(x => x.Context.Message)
                .LastOrDefault(m => m.TaskId == submit.TaskId && m.ErrorCode == ErrorCodes.LateSuccess)),
            m => m is not null, because: "the late success is an event of its own");
        Assert.That((lateEvent!.To, lateEvent.Status), Is.EqualTo((Canceled, TaskStatuses.Canceled)));
    }

    [Test]
    public async Task A_task_whose_agent_is_offline_is_CANCELED_at_once_its_agent_is_still_told_and_a_later_success_is_charged()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submit = await DispatchedAsync(harness, started: true);
        await harness.Get<IAgentStore>().SetConsumersLostAsync(SagaHarness.AgentId, DateTimeOffset.UtcNow);

        var answer = await CancelAsync(harness, submit.TaskId, byAdmin: true);

        Assert.That((answer.Status, answer.State), Is.EqualTo((TaskStatuses.Canceled, Canceled)));
        var task = (await harness.LoadAsync(submit.TaskId))!;
        Assert.That(task.Error!.Message, Does.Contain("while its agent was offline (nothing consumes its task queue"));
        Assert.That(task.CancelRequestedBy, Is.EqualTo("admin:alice"));
        Assert.That(Notes(task), Has.Some.EqualTo("cancel requested by an admin: its agent is offline and cannot confirm, so the task is canceled without its answer"));
        await AssertNothingKeptAsync(harness, submit.TaskId);
        await Eventually.True(() => Task.FromResult(CancelsSent(harness, submit.TaskId) == 1), because: "the cancel waits for the agent in its control queue");

        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId));

        var late = await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.LateSuccess, because: "the late success is settled");
        Assert.That(late!.Status, Is.EqualTo(TaskStatuses.Canceled));
        Assert.That((await harness.UsageAsync()).VmCount.Used, Is.EqualTo(1));
        Assert.That(await harness.ResourcesAsync(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task A_task_not_started_on_an_offline_agent_keeps_what_it_holds_until_its_pickup_window_closes_then_is_CANCELED()
    {
        await using var harness = await SagaHarness.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Orchestrator:Agents:PickupWindow"] = "00:00:02",
            ["Orchestrator:Agents:PickupGrace"] = "00:00:00.200",
        });
        var submit = await DispatchedAsync(harness);
        var dispatched = await harness.LoadAsync(submit.TaskId);
        // Offline may be a restart: the agent could be back and start the task before it reads the cancel.
        await harness.Get<IAgentStore>().SetConsumersLostAsync(SagaHarness.AgentId, DateTimeOffset.UtcNow);

        var answer = await CancelAsync(harness, submit.TaskId);

        Assert.That((answer.Status, answer.State), Is.EqualTo((TaskStatuses.Canceling, Canceling)));
        var canceling = (await harness.LoadAsync(submit.TaskId))!;
        Assert.That(canceling.DeadlineAt, Is.EqualTo(dispatched!.PickupBy), "it waits until its pickup window closes");
        Assert.That((await harness.UsageAsync()).VmCount.Held, Is.EqualTo(1), "its hold is kept while the agent could still start it");
        Assert.That(await harness.Get<IAgentStore>().GetPlacementAsync(submit.TaskId), Is.Not.Null, "and its placement");

        var task = await harness.WaitForStateAsync(submit.TaskId, Canceled, TimeSpan.FromSeconds(20));
        Assert.That(task.Error!.Message, Does.Contain("did not start the task within its pickup window"));
        await AssertNothingKeptAsync(harness, submit.TaskId);
    }

    [Test]
    public async Task A_task_an_earlier_version_left_before_dispatch_is_CANCELED_at_once_and_gives_back_its_hold_placement_and_name()
    {
        await using var harness = await SagaHarness.StartAsync();
        var now = DateTimeOffset.UtcNow;
        var task = new TaskState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = "HoldingQuota", TenantId = SagaHarness.TenantId, Action = ActionNames.VmCreate,
            Data = JsonSerializer.SerializeToElement(new { name = "old" }), AgentId = SagaHarness.AgentId, Status = TaskStatuses.Pending,
            QuotaHold = QuotaHoldStatuses.Held, CreatedAt = now, UpdatedAt = now, DeadlineAt = now.AddSeconds(30),
        };
        var resources = harness.Get<IResourceStore>();
        Assert.That(await resources.TryReserveNameAsync(SagaHarness.TenantId, "old", task.CorrelationId), Is.True);
        await harness.Get<IAgentStore>().PlaceAsync(new AgentPlacement(task.CorrelationId, SagaHarness.AgentId, new AgentCapacity(2, 2048, 10240)));
        Assert.That((await harness.Get<QuotaLedger>().TryHoldAsync(task.CorrelationId, SagaHarness.TenantId, SagaHarness.AgentId, new QuotaAmounts(2, 2048, 10240, 1),
            TimeSpan.FromMinutes(30))).Held, Is.True);
        await harness.Get<ITaskStore>().TryInsertAsync(task, CancellationToken.None);

        var answer = await CancelAsync(harness, task.CorrelationId);

        Assert.That((answer.Status, answer.State), Is.EqualTo((TaskStatuses.Canceled, Canceled)));
        var canceled = (await harness.LoadAsync(task.CorrelationId))!;
        Assert.That((canceled.Error!.Code, canceled.QuotaHold), Is.EqualTo((ErrorCodes.Canceled, QuotaHoldStatuses.Released)));
        Assert.That(Notes(canceled), Has.Some.EqualTo("cancel requested by user alice before the task was dispatched"));
        await AssertNothingKeptAsync(harness, task.CorrelationId);
        Assert.That(await resources.TryReserveNameAsync(SagaHarness.TenantId, "old", Guid.NewGuid()), Is.True, "the name is free");
    }
}
