using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;
using SQLitePCL;

namespace OpenHvx.Tests.Tasks;

/// <summary>
/// Transient storage faults are retried with backoff for the configured time; refused and other permanent failures go to the
/// error queue at once (StorageFaults, TransientRetry, on the saga endpoint and on a consumer endpoint of MassTransit's harness).
/// </summary>
[TestFixture]
[Category("Unit")]
public sealed class TransientRetryTests
{
    private static SqliteException Sqlite(int code) => new($"SQLite Error {code}", code, code);

    [Test]
    public void Busy_full_read_only_and_io_errors_concurrency_conflicts_and_timeouts_are_transient_wherever_they_are_wrapped()
    {
        foreach (var code in new[] { raw.SQLITE_BUSY, raw.SQLITE_LOCKED, raw.SQLITE_FULL, raw.SQLITE_READONLY, raw.SQLITE_IOERR, raw.SQLITE_CANTOPEN })
            Assert.That(StorageFaults.IsTransient(Sqlite(code)), Is.True, $"SQLite code {code}");
        Assert.That(StorageFaults.IsTransient(new SagaVersionConflictException(Guid.NewGuid(), "conflict")), Is.True);
        Assert.That(StorageFaults.IsTransient(new TimeoutException("no server selected")), Is.True);
        Assert.That(StorageFaults.IsTransient(new InvalidOperationException("wrapped", Sqlite(raw.SQLITE_FULL))), Is.True, "an inner exception");
        Assert.That(StorageFaults.IsTransient(new AggregateException(new ArgumentException(), Sqlite(raw.SQLITE_BUSY))), Is.True, "one of an aggregate");
    }

    [Test]
    public void Refused_messages_constraint_violations_and_bugs_are_permanent()
    {
        Assert.That(StorageFaults.IsTransient(new RejectedWireMessageException("No task")), Is.False);
        Assert.That(StorageFaults.IsTransient(Sqlite(raw.SQLITE_CONSTRAINT)), Is.False);
        Assert.That(StorageFaults.IsTransient(Sqlite(raw.SQLITE_CORRUPT)), Is.False);
        Assert.That(StorageFaults.IsTransient(new NullReferenceException()), Is.False);
        Assert.That(StorageFaults.IsStorageFailure(Sqlite(raw.SQLITE_CONSTRAINT)), Is.True, "still not the task's fault: its transaction is rolled back");
    }

    [Test]
    public void The_intervals_start_fast_double_up_to_the_cap_and_add_up_to_the_total()
    {
        var intervals = new TransientRetryOptions().Intervals();

        Assert.That(intervals.Take(4), Is.EqualTo(new[] { 5, 10, 20, 40 }.Select(ms => TimeSpan.FromMilliseconds(ms))), "fast first, for concurrency conflicts");
        Assert.That(intervals.Max(), Is.EqualTo(TimeSpan.FromSeconds(30)));
        var total = intervals.Aggregate(TimeSpan.Zero, (sum, i) => sum + i);
        Assert.That(total, Is.GreaterThanOrEqualTo(TimeSpan.FromMinutes(5)).And.LessThan(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(30)));
    }

    public sealed record Probe(Guid Id);

    /// <summary>Throws what the test sets, for as many attempts as it says.</summary>
    public sealed class FlakyConsumer(FlakyBehaviour behaviour) : IConsumer<Probe>
    {
        public Task Consume(ConsumeContext<Probe> context)
        {
            var attempt = Interlocked.Increment(ref behaviour.Attempts);
            if (attempt <= behaviour.Failures)
                throw behaviour.Fault();
            return Task.CompletedTask;
        }
    }

    public sealed class FlakyBehaviour
    {
        public int Attempts;
        public int Failures { get; set; }
        public Func<Exception> Fault { get; set; } = () => new InvalidOperationException();
    }

    private static async Task<(ServiceProvider Provider, ITestHarness Harness, FlakyBehaviour Behaviour)> StartAsync(TransientRetryOptions options)
    {
        var services = new ServiceCollection().AddSingleton<FlakyBehaviour>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<FlakyConsumer>().ExcludeFromConfigureEndpoints();
            bus.UsingInMemory((context, memory) => memory.ReceiveEndpoint("flaky", endpoint =>
            {
                endpoint.UseTransientRetry(options);
                endpoint.ConfigureConsumer<FlakyConsumer>(context);
            }));
        });
        var provider = services.BuildServiceProvider();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        return (provider, harness, provider.GetRequiredService<FlakyBehaviour>());
    }

    private static readonly TransientRetryOptions Short = new() { Total = TimeSpan.FromSeconds(2), FirstInterval = TimeSpan.FromMilliseconds(1), MaxInterval = TimeSpan.FromMilliseconds(50) };

    [Test]
    public async Task A_message_that_meets_a_full_disk_is_retried_until_it_goes_through()
    {
        var (provider, harness, behaviour) = await StartAsync(Short);
        await using var _ = provider;
        behaviour.Failures = 6;
        behaviour.Fault = () => Sqlite(raw.SQLITE_FULL);

        await harness.Bus.Publish(new Probe(Guid.NewGuid()));

        Assert.That(await harness.Consumed.Any<Probe>(m => m.Exception is null), Is.True, "consumed in the end");
        Assert.That(behaviour.Attempts, Is.EqualTo(7));
        Assert.That(await harness.Published.Any<Fault<Probe>>(), Is.False, "no fault, nothing for the error queue");
    }

    [Test]
    public async Task A_refused_message_faults_on_its_first_attempt()
    {
        var (provider, harness, behaviour) = await StartAsync(Short);
        await using var _ = provider;
        behaviour.Failures = int.MaxValue;
        behaviour.Fault = () => new RejectedWireMessageException("No task: set aside");

        await harness.Bus.Publish(new Probe(Guid.NewGuid()));

        Assert.That(await harness.Published.Any<Fault<Probe>>(), Is.True, "faulted (to the error queue)");
        Assert.That(behaviour.Attempts, Is.EqualTo(1), "not retried");
    }

    [Test]
    public async Task A_fault_that_outlasts_the_total_retry_time_faults_after_every_interval()
    {
        var options = new TransientRetryOptions { Total = TimeSpan.FromMilliseconds(100), FirstInterval = TimeSpan.FromMilliseconds(1), MaxInterval = TimeSpan.FromMilliseconds(20) };
        var (provider, harness, behaviour) = await StartAsync(options);
        await using var _ = provider;
        behaviour.Failures = int.MaxValue;
        behaviour.Fault = () => Sqlite(raw.SQLITE_READONLY);

        await harness.Bus.Publish(new Probe(Guid.NewGuid()));

        Assert.That(await harness.Published.Any<Fault<Probe>>(), Is.True);
        Assert.That(behaviour.Attempts, Is.EqualTo(options.Intervals().Length + 1));
    }

    /// <summary>The task store with writes that fail with SQLITE_FULL while <see cref="Full"/> is set.</summary>
    private sealed class FullDiskTaskStore(ITaskStore inner) : ITaskStore
    {
        public volatile bool Full;
        public int Refused;

        private void ThrowWhenFull()
        {
            if (!Full)
                return;
            Interlocked.Increment(ref Refused);
            throw Sqlite(raw.SQLITE_FULL);
        }

        public Task<bool> TryInsertAsync(TaskState instance, CancellationToken cancellationToken)
        {
            ThrowWhenFull();
            return inner.TryInsertAsync(instance, cancellationToken);
        }

        public Task UpdateAsync(TaskState instance, CancellationToken cancellationToken)
        {
            ThrowWhenFull();
            return inner.UpdateAsync(instance, cancellationToken);
        }

        public Task DeleteAsync(TaskState instance, CancellationToken cancellationToken) => inner.DeleteAsync(instance, cancellationToken);
        public Task<TaskState?> LoadAsync(Guid id, CancellationToken cancellationToken) => inner.LoadAsync(id, cancellationToken);
        public Task<IReadOnlyList<TaskState>> LoadAllAsync(CancellationToken cancellationToken) => inner.LoadAllAsync(cancellationToken);
        public Task<IReadOnlyList<TaskState>> QueryAsync(TaskQuery query, CancellationToken cancellationToken) => inner.QueryAsync(query, cancellationToken);

        public Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset DeadlineAt)>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
            => inner.FindExpiredAsync(now, limit, cancellationToken);
    }

    [Test]
    public async Task The_saga_keeps_an_agents_result_through_a_full_disk_and_completes_the_task_when_writes_work_again()
    {
        FullDiskTaskStore? store = null;
        await using var harness = await SagaHarness.StartAsync(
            services => services.Replace(ServiceDescriptor.Singleton<ITaskStore>(sp =>
                store = new FullDiskTaskStore(new SqliteTaskStore(sp.GetRequiredService<SqliteDatabase>())))),
            new Dictionary<string, string?> { ["Orchestrator:TransientRetry:Total"] = "00:01:00", ["Orchestrator:TransientRetry:MaxInterval"] = "00:00:00.100" });
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();
        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.AwaitingResult));

        store!.Full = true;
        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId));
        await Eventually.True(() => Task.FromResult(store.Refused >= 5), because: "the result is retried against the full disk");
        Assert.That((await harness.LoadAsync(submit.TaskId))!.CurrentState, Is.EqualTo(nameof(TaskStateMachine.AwaitingResult)));
        store.Full = false;

        var task = await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Succeeded));
        Assert.That(task.Status, Is.EqualTo(TaskStatuses.Succeeded));
        Assert.That(await harness.Harness.Published.Any<Fault<AgentTaskResult>>(), Is.False, "never faulted");
        Assert.That((await harness.UsageAsync()).VmCount.Used, Is.EqualTo(1));
    }
}
