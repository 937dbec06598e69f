using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Persistence;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Retention;

/// <summary><see cref="RetentionSweeper"/> on each store family: what one sweep removes, its settings, and the lease it needs.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class RetentionSweeperTests(string family) : StoreContract(family)
{
    private static OrchestratorOptions Settings(Action<RetentionOptions>? change = null)
    {
        var options = new OrchestratorOptions { Retention = { Interval = TimeSpan.FromMilliseconds(50), BatchSize = 2 } };
        change?.Invoke(options.Retention);
        return options;
    }

    private RetentionSweeper Sweeper(OrchestratorOptions settings)
    {
        var options = Options.Create(settings);
        var keeper = new JobLeaseKeeper(_stores.Leases, new OrchestratorInstance(), Clock, options, NullLogger<JobLeaseKeeper>.Instance);
        return new RetentionSweeper(_stores.Retention, keeper, Clock, options, NullLogger<RetentionSweeper>.Instance);
    }

    private async Task<Guid> EndedTaskAsync()
    {
        var now = Clock.GetUtcNow();
        var task = new TaskState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = "Succeeded", Status = TaskStatuses.Succeeded, TenantId = "acme", Action = "vm.power",
            Data = JsonSerializer.SerializeToElement(new { state = "on" }), CreatedAt = now, UpdatedAt = now,
        };
        Assert.That(await _stores.Tasks.TryInsertAsync(task, None), Is.True);
        return task.CorrelationId;
    }

    [Test]
    public async Task A_sweep_archives_every_due_task_in_batches_and_deletes_expired_keys()
    {
        var tasks = new List<Guid>();
        for (var i = 0; i < 5; i++)
            tasks.Add(await EndedTaskAsync());
        await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", tasks[0], None);
        Clock.Advance(TimeSpan.FromDays(91));
        var young = await EndedTaskAsync();

        var counts = await Sweeper(Settings()).TickAsync(None);

        Assert.That(counts, Is.EqualTo(new RetentionCounts(5, 1, 0)), "five tasks in batches of two, one key");
        foreach (var id in tasks)
            Assert.That(await _stores.Retention.LoadArchivedAsync(id, None), Is.Not.Null);
        Assert.That(await _stores.Tasks.LoadAsync(young, None), Is.Not.Null);
    }

    [Test]
    public async Task An_age_of_zero_keeps_that_history_forever()
    {
        var task = await EndedTaskAsync();
        await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", task, None);
        Clock.Advance(TimeSpan.FromDays(3650));

        var counts = await Sweeper(Settings(r => (r.FinishedTasks, r.IdempotencyKeys) = (TimeSpan.Zero, TimeSpan.Zero))).TickAsync(None);

        Assert.That(counts, Is.EqualTo(new RetentionCounts(0, 0, 0)));
        Assert.That(await _stores.Tasks.LoadAsync(task, None), Is.Not.Null);
    }

    [Test]
    public async Task Nothing_is_removed_while_another_orchestrator_holds_the_retention_lease()
    {
        var task = await EndedTaskAsync();
        Clock.Advance(TimeSpan.FromDays(91));
        var settings = Settings();
        Assert.That(await _stores.Leases.TryAcquireAsync(ClusterJobs.Retention, "other-orchestrator", Clock.GetUtcNow(), settings.Leases.Duration, None), Is.True);
        var sweeper = Sweeper(settings);

        Assert.That(await sweeper.TickAsync(None), Is.Null, "not this orchestrator's job");
        Assert.That(await _stores.Tasks.LoadAsync(task, None), Is.Not.Null);

        // The other orchestrator is gone: its lease lapses and this one takes the job over.
        Clock.Advance(settings.Leases.Duration);
        Assert.That((await sweeper.TickAsync(None))?.TasksArchived, Is.EqualTo(1));
        Assert.That(await _stores.Tasks.LoadAsync(task, None), Is.Null);
    }

    [Test]
    public async Task The_running_service_sweeps_each_interval()
    {
        var task = await EndedTaskAsync();
        Clock.Advance(TimeSpan.FromDays(91));
        var sweeper = Sweeper(Settings());
        await sweeper.StartAsync(None);
        try
        {
            await Eventually.True(async () => await _stores.Retention.LoadArchivedAsync(task, None) is not null, TimeSpan.FromSeconds(10), "the task is archived");
        }
        finally
        {
            await sweeper.StopAsync(None);
        }
    }
}
