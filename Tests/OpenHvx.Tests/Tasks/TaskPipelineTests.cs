using System.Text.Json;
using MassTransit;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>The pipeline in one transition and one transaction: all of a submission is stored, or none of it.</summary>
[TestFixture]
[Category("Unit")]
public sealed class TaskPipelineTests
{
    [Test]
    public async Task An_agent_that_answers_at_once_never_loses_the_running_status()
    {
        await using var harness = await SagaHarness.StartAsync();
        var submits = Enumerable.Range(0, 12).Select(i => SagaHarness.VmCreate(name: $"quick{i}")).ToList();

        await Task.WhenAll(submits.Select(harness.SubmitAsync));

        foreach (var submit in submits)
        {
            var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
            Assert.That(task.Timeline.Select(t => (t.State, t.Status)), Does.Contain(("AwaitingResult", TaskStatuses.Running)), $"task {submit.TaskId}");
            Assert.That(task.StartedAt, Is.Not.Null);
        }
    }

    [Test]
    public async Task A_refused_hold_gives_back_its_placement_and_name_in_the_same_transaction()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false, limits: new QuotaAmounts(1, -1, -1, -1));
        await harness.HeartbeatAsync(capacity: new AgentCapacity(8, 65536, 1048576));
        await harness.Get<ITenantStore>().UpsertAsync(new Tenant("tenant2", "Tenant 2", Tenant.Active, new QuotaAmounts(-1, -1, -1, -1)));

        var refused = await harness.SubmitAsync(SagaHarness.VmCreate(name: "big", cpu: 8));

        Assert.That(refused.Is(out Response<TaskRejected>? rejected) && rejected!.Message.Code == ErrorCodes.QuotaExceeded, Is.True);
        Assert.That(await CountAsync(harness, "placements"), Is.Zero, "no capacity stays taken by a refused task");
        Assert.That(await CountAsync(harness, "vm_names"), Is.Zero, "its name is free again");
        // The whole host is free for another tenant at once, not after a deadline.
        var other = SagaHarness.VmCreate(name: "big", cpu: 8) with { TenantId = "tenant2" };
        Assert.That((await harness.SubmitAsync(other)).Is(out Response<TaskAccepted>? _), Is.True);
    }

    [Test]
    public async Task An_exception_in_a_step_is_a_refusal_with_a_code_that_keeps_nothing_it_took()
    {
        await using var harness = await SagaHarness.StartAsync(services => services.AddSingleton<ITaskAction, ExplodingAction>(), withAgent: false);
        await harness.HeartbeatAsync(capacity: new AgentCapacity(4, 8192, 102400), capabilities: [ActionNames.VmCreate, ExplodingAction.ActionName]);
        var submit = new SubmitTask(NewId.NextGuid(), SagaHarness.TenantId, ExplodingAction.ActionName, null,
            JsonSerializer.SerializeToElement(new { name = "boom" }), "test", DateTimeOffset.UtcNow);

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskRejected>? rejected), Is.True);
        Assert.That(rejected!.Message.Code, Is.EqualTo(ErrorCodes.StepFailed));
        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        Assert.That(task.Timeline.Select(t => t.State), Is.EqualTo(new[] { "Validating", "Electing", "Enriching", "Failed" }));
        Assert.That((await CountAsync(harness, "placements"), await CountAsync(harness, "vm_names")), Is.EqualTo((0L, 0L)));
        // The capacity the election took is free: a vm.create of the whole host is placed at once.
        Assert.That((await harness.SubmitAsync(SagaHarness.VmCreate(name: "next", cpu: 4, ram: "8GB"))).Is(out Response<TaskAccepted>? _), Is.True);
    }

    [Test]
    public async Task A_storage_failure_in_the_pipeline_stores_nothing_of_the_submission()
    {
        var failing = new FailingQuotaStore(failAlways: true);
        // The transient retry cut short (minutes by default), so that the submission faults within the test.
        await using var harness = await SagaHarness.StartAsync(services => failing.Register(services),
            new Dictionary<string, string?> { ["Orchestrator:TransientRetry:Total"] = "00:00:01" });
        var submit = SagaHarness.VmCreate(name: "doomed");

        await harness.Harness.Bus.Publish(submit);

        await Eventually.True(() => Task.FromResult(harness.Harness.Published.Select<Fault<SubmitTask>>().Any()), because: "the submission faults after its retries");
        Assert.That(failing.Failures, Is.GreaterThan(1), "retried");
        Assert.That(await harness.LoadAsync(submit.TaskId), Is.Null, "no task row");
        foreach (var table in new[] { "quota_holds", "quota_usage", "placements", "vm_names", "agent_outbox" })
            Assert.That(await CountAsync(harness, table), Is.Zero, table);
        Assert.That(harness.Agent.Received, Is.Empty, "nothing left for the agent");
    }

    [Test]
    public async Task A_submission_redelivered_after_a_storage_failure_completes_once()
    {
        var failing = new FailingQuotaStore(failAlways: false);
        await using var harness = await SagaHarness.StartAsync(services => failing.Register(services));
        var submit = SagaHarness.VmCreate(name: "second-try");

        await harness.Harness.Bus.Publish(submit);

        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(failing.Failures, Is.EqualTo(1));
        Assert.That(harness.Agent.Received.Count(t => t.TaskId == submit.TaskId), Is.EqualTo(1));
        var usage = await harness.UsageAsync();
        Assert.That((usage.Cpu.Used, usage.Cpu.Held, usage.VmCount.Used), Is.EqualTo((2L, 0L, 1L)));
        Assert.That(await CountAsync(harness, "quota_holds"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_task_whose_send_failed_is_sent_again_from_the_outbox_and_completes()
    {
        var sender = new FlakySender();
        await using var harness = await SagaHarness.StartAsync(services => services.AddSingleton<IAgentTaskSender>(sp => sender.Wrap(sp)),
            settings: new Dictionary<string, string?> { ["Orchestrator:OutboxRetryAfter"] = "00:00:00.200" });
        var submit = SagaHarness.VmCreate(name: "resent");

        var response = await harness.SubmitAsync(submit);

        Assert.That(response.Is(out Response<TaskAccepted>? _), Is.True, "stored and accepted although the first send failed");
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(sender.Attempts, Is.GreaterThanOrEqualTo(2));
        Assert.That(harness.Agent.Received.Count(t => t.TaskId == submit.TaskId), Is.EqualTo(1));
        Assert.That(await CountAsync(harness, "agent_outbox"), Is.Zero, "the entry goes once the agent has answered");
    }

    [Test]
    public async Task After_a_crash_between_commit_and_send_another_orchestrator_adopts_the_task_and_sends_it()
    {
        await using var harness = await SagaHarness.StartAsync();
        // What an orchestrator killed after its commit and before its send leaves behind: an entry of its own, and no live lease.
        IAgentOutbox gone = new SqliteAgentOutbox(harness.Get<SqliteDatabase>(), new OrchestratorInstance());
        var task = LeftTask("left");
        await gone.AddAsync(task, DateTimeOffset.UtcNow.AddMinutes(-1), CancellationToken.None);
        var recording = new RecordingSender();

        var survivor = Relay(harness, recording);
        await survivor.SendLeftoversAsync(CancellationToken.None);

        Assert.That(recording.Sent.Select(t => t.TaskId), Is.EqualTo(new[] { task.TaskId }));
        await survivor.SendLeftoversAsync(CancellationToken.None);
        Assert.That(recording.Sent, Has.Count.EqualTo(1), "a process sends an entry once, then waits for the agent's answer");
    }

    [Test]
    public async Task An_entry_of_another_live_orchestrator_is_left_to_it_until_its_lease_lapses_in_two_readings()
    {
        await using var harness = await SagaHarness.StartAsync();
        var other = new OrchestratorInstance();
        var leases = harness.Get<IJobLeases>();
        var lease = TimeSpan.FromMinutes(1);
        await leases.TryAcquireAsync(ClusterJobs.InstancePrefix + other.Id, other.Id, DateTimeOffset.UtcNow, lease, CancellationToken.None);
        var task = LeftTask("waiting");
        // Sent by the other orchestrator a minute ago, and still waiting in its agent's busy queue.
        IAgentOutbox othersOutbox = new SqliteAgentOutbox(harness.Get<SqliteDatabase>(), other);
        await othersOutbox.AddAsync(task, DateTimeOffset.UtcNow.AddMinutes(-1), CancellationToken.None);
        var recording = new RecordingSender();
        var relay = Relay(harness, recording);

        await relay.SendLeftoversAsync(CancellationToken.None);
        Assert.That(recording.Sent, Is.Empty, "another live orchestrator's entry is not sent twice");

        // The other one is gone: its instance lease is not renewed and lapses. Missing from one reading could be a late renewal.
        await leases.ReleaseAsync(ClusterJobs.InstancePrefix + other.Id, other.Id, CancellationToken.None);
        await relay.SendLeftoversAsync(CancellationToken.None);
        Assert.That(recording.Sent, Is.Empty, "missing from one reading only");
        await relay.SendLeftoversAsync(CancellationToken.None);
        Assert.That(recording.Sent.Select(t => t.TaskId), Is.EqualTo(new[] { task.TaskId }), "missing from two in a row: adopted and sent");
    }

    private static AgentTask LeftTask(string name) => new(Guid.NewGuid(), SagaHarness.TenantId, SagaHarness.AgentId, ActionNames.VmCreate,
        JsonSerializer.SerializeToElement(new { name }), name);

    private static AgentOutboxRelay Relay(SagaHarness harness, IAgentTaskSender sender) => new(harness.Get<IAgentOutbox>(), sender, harness.Get<JobLeaseKeeper>(),
        TimeProvider.System, harness.Get<IOptions<OrchestratorOptions>>(), NullLogger<AgentOutboxRelay>.Instance);

    [Test]
    public async Task A_redelivered_submission_of_a_finished_task_takes_no_VM_lock()
    {
        await using var harness = await SagaHarness.StartAsync(withAgent: false);
        await harness.HeartbeatAsync(capabilities: [ActionNames.VmCreate, ActionNames.VmPower]);
        var create = SagaHarness.VmCreate(name: "locked");
        await harness.SubmitAsync(create);
        var vmId = (await harness.WaitForStateAsync(create.TaskId, nameof(TaskStateMachine.Succeeded))).ResourceId!;
        var power = new SubmitTask(NewId.NextGuid(), SagaHarness.TenantId, ActionNames.VmPower, new TaskTarget("vm", vmId, null),
            JsonSerializer.SerializeToElement(new { state = "stop" }), "test", DateTimeOffset.UtcNow);
        await harness.SubmitAsync(power);
        await harness.WaitForStateAsync(power.TaskId, nameof(TaskStateMachine.Succeeded));

        await harness.Harness.Bus.Publish(power);
        await Eventually.True(() => Task.FromResult(harness.Harness.Consumed.Select<SubmitTask>().Count(x => x.Context.Message.TaskId == power.TaskId) == 2),
            because: "the redelivery is consumed");
        await harness.Harness.InactivityTask;

        Assert.That(await CountAsync(harness, "vm_locks"), Is.Zero);
        var next = power with { TaskId = NewId.NextGuid() };
        Assert.That((await harness.SubmitAsync(next)).Is(out Response<TaskAccepted>? _), Is.True, "the VM takes its next task");
    }

    [Test]
    public async Task A_send_that_failed_is_found_again_behind_a_page_of_tasks_already_sent()
    {
        await using var harness = await SagaHarness.StartAsync();
        var outbox = harness.Get<IAgentOutbox>();
        var recording = new RecordingSender();
        var relay = Relay(harness, recording);
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        AgentTask Task(int i) => new(Guid.NewGuid(), SagaHarness.TenantId, SagaHarness.AgentId, ActionNames.VmCreate, JsonSerializer.SerializeToElement(new { i }), "t");
        // A silent agent's 500 tasks, sent and waiting for its answer.
        for (var i = 0; i < 500; i++)
            await outbox.AddAsync(Task(i), start.AddMilliseconds(i), CancellationToken.None);
        await relay.SendLeftoversAsync(CancellationToken.None);
        Assert.That(recording.Sent, Has.Count.EqualTo(500));

        // Then one whose send failed elsewhere, stored after them.
        var failed = Task(500);
        await outbox.AddAsync(failed, start.AddSeconds(10), CancellationToken.None);
        await relay.SendLeftoversAsync(CancellationToken.None);

        Assert.That(recording.Sent.Skip(500).Select(t => t.TaskId), Is.EqualTo(new[] { failed.TaskId }));
    }

    [Test]
    public async Task A_task_an_earlier_version_left_in_Dispatching_moves_on_when_its_agent_starts_it()
    {
        await using var harness = await SagaHarness.StartAsync();
        var now = DateTimeOffset.UtcNow;
        var task = new TaskState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = "Dispatching", TenantId = SagaHarness.TenantId, Action = ActionNames.VmCreate,
            Data = JsonSerializer.SerializeToElement(new { name = "old" }), AgentId = SagaHarness.AgentId, Status = TaskStatuses.Pending,
            CreatedAt = now, UpdatedAt = now, DeadlineAt = now.AddSeconds(60),
        };
        await harness.Get<OpenHvx.Orchestrator.Persistence.ITaskStore>().TryInsertAsync(task, CancellationToken.None);

        await harness.Harness.Bus.Publish(new AgentTaskStarted(task.CorrelationId, SagaHarness.AgentId, now));

        var moved = await Eventually.Get(() => harness.LoadAsync(task.CorrelationId), t => t!.Status == TaskStatuses.Running, because: "the task is running");
        Assert.That(moved!.CurrentState, Is.EqualTo(nameof(TaskStateMachine.AwaitingResult)));
        Assert.That(moved.DeadlineAt, Is.GreaterThan(now.AddMinutes(20)), "the long deadline of a task its agent runs");
    }

    private static async Task<long> CountAsync(SagaHarness harness, string table)
    {
        await using var lease = await harness.Get<SqliteDatabase>().LeaseAsync();
        await using var command = lease.Command($"SELECT COUNT(*) FROM {table}");
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>An action whose enrichment throws what no step expects, after validation reserved a name and the election placed it.</summary>
    private sealed class ExplodingAction : ITaskAction
    {
        public const string ActionName = "test.explode";
        public string Name => ActionName;
        public void Validate(JsonElement data, FieldErrors errors) { }
        public string? ClaimedName(JsonElement data) => data.GetProperty("name").GetString();
        public Task<QuotaAmounts> GetRequirementAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
            => Task.FromResult(new QuotaAmounts(4, 8192, 102400, 1));
        public Task<Enrichment> EnrichAsync(JsonElement data, ActionContext context, CancellationToken cancellationToken)
            => throw new ArgumentException("An item with the same key has already been added. Key: user");
    }

    /// <summary>The quota store with a disk that fails on the counters' write (once, or every time).</summary>
    private sealed class FailingQuotaStore(bool failAlways)
    {
        private int _failures;
        private bool FailAlways => failAlways;
        public int Failures => _failures;

        public void Register(IServiceCollection services)
            => services.AddSingleton<IQuotaStore>(sp => new Failing(new SqliteQuotaStore(sp.GetRequiredService<SqliteDatabase>()), this));

        private sealed class Failing(IQuotaStore inner, FailingQuotaStore owner) : IQuotaStore
        {
            public Task<QuotaLedgerEntry?> GetEntryAsync(string key, CancellationToken cancellationToken) => inner.GetEntryAsync(key, cancellationToken);
            public Task<QuotaCounters> GetCountersAsync(string tenantId, CancellationToken cancellationToken) => inner.GetCountersAsync(tenantId, cancellationToken);
            public Task<IReadOnlyList<QuotaLedgerEntry>> FindLapsedAsync(string? tenantId, DateTimeOffset now, int limit, CancellationToken cancellationToken)
                => inner.FindLapsedAsync(tenantId, now, limit, cancellationToken);
            public Task<bool> TryInsertAsync(QuotaLedgerEntry entry, CancellationToken cancellationToken) => inner.TryInsertAsync(entry, cancellationToken);
            public Task<long> CountHeldAsync(CancellationToken cancellationToken) => inner.CountHeldAsync(cancellationToken);
            public Task<bool> TrySettleAsync(string key, string expectedStatus, string status, QuotaAmounts amounts, bool overLimit, bool holdLapsed, DateTimeOffset at,
                CancellationToken cancellationToken) => inner.TrySettleAsync(key, expectedStatus, status, amounts, overLimit, holdLapsed, at, cancellationToken);

            public async Task AddToCountersAsync(string tenantId, QuotaAmounts used, QuotaAmounts held, CancellationToken cancellationToken)
            {
                // After the ledger row and the placement were written in this transaction: all of it must go.
                if (owner.FailAlways || Interlocked.CompareExchange(ref owner._failures, 0, 0) == 0)
                {
                    Interlocked.Increment(ref owner._failures);
                    throw new SqliteException("database or disk is full", 13);
                }
                await inner.AddToCountersAsync(tenantId, used, held, cancellationToken);
            }
        }
    }

    private sealed class FlakySender
    {
        private int _attempts;
        public int Attempts => _attempts;

        public IAgentTaskSender Wrap(IServiceProvider services) => new Sender(new QueueAgentTaskSender(services), this);

        private sealed class Sender(IAgentTaskSender inner, FlakySender owner) : IAgentTaskSender
        {
            public Task SendAsync(AgentTask task, CancellationToken cancellationToken)
                => Interlocked.Increment(ref owner._attempts) == 1
                    ? throw new InvalidOperationException("the broker connection dropped")
                    : inner.SendAsync(task, cancellationToken);
        }
    }

    private sealed class RecordingSender : IAgentTaskSender
    {
        public List<AgentTask> Sent { get; } = [];

        public Task SendAsync(AgentTask task, CancellationToken cancellationToken)
        {
            Sent.Add(task);
            return Task.CompletedTask;
        }
    }
}
