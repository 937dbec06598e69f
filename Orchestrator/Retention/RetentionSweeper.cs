using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Telemetry;

namespace OpenHvx.Orchestrator.Retention;

/// <summary>
/// Keeps the live store the size of recent work (<see cref="RetentionOptions"/>): each interval, on the one orchestrator holding
/// the <see cref="ClusterJobs.Retention"/> lease, it archives ended tasks past their age, deletes expired idempotency keys and
/// compacts settled quota ledger rows, a batch per short transaction so submissions wait for one batch at most.
/// </summary>
public sealed class RetentionSweeper(
    IRetentionStore store,
    JobLeaseKeeper keeper,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<RetentionSweeper> logger,
    OrchestratorMetrics? metrics = null) : PeriodicJob("Retention sweep", clock, logger, keeper, ClusterJobs.Retention)
{
    private RetentionOptions Settings => options.Value.Retention;

    protected override TimeSpan Interval => Settings.Interval;

    protected override bool WorksAtStart => false;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Settings.Interval > TimeSpan.Zero)
            return base.ExecuteAsync(stoppingToken);
        Logger.LogInformation("Retention is off (Orchestrator:Retention:Interval is not positive): nothing is archived or deleted");
        return Task.CompletedTask;
    }

    protected override Task WorkAsync(CancellationToken cancellationToken) => SweepAsync(cancellationToken);

    /// <summary>A sweep when this orchestrator holds the retention lease; null (nothing done) when another one does.</summary>
    public async Task<RetentionCounts?> TickAsync(CancellationToken cancellationToken)
        => await RunsTheJobAsync(cancellationToken) ? await SweepAsync(cancellationToken) : null;

    /// <summary>One sweep: every kind, batch after batch until a batch comes back short. What it removed, by kind.</summary>
    public async Task<RetentionCounts> SweepAsync(CancellationToken cancellationToken)
    {
        var now = Clock.GetUtcNow();
        var counts = new RetentionCounts(
            await DrainAsync("tasks", RetentionOptions.Cutoff(now, Settings.FinishedTasks), store.ArchiveFinishedTasksAsync, cancellationToken),
            await DrainAsync("idempotency_keys", RetentionOptions.Cutoff(now, Settings.IdempotencyKeys), store.DeleteIdempotencyKeysAsync, cancellationToken),
            // After the tasks: the rows of tasks archived just now are compacted in the same sweep.
            await DrainAsync("quota_holds", RetentionOptions.Cutoff(now, Settings.SettledHolds), store.CompactSettledHoldsAsync, cancellationToken));
        if (counts.Total > 0)
            Logger.LogInformation("Retention: archived {Tasks} task(s), deleted {Keys} idempotency key(s) and {Holds} settled quota hold(s)",
                counts.TasksArchived, counts.IdempotencyKeys, counts.SettledHolds);
        return counts;
    }

    private async Task<int> DrainAsync(string kind, DateTimeOffset? before, Func<DateTimeOffset, int, CancellationToken, Task<int>> batch,
        CancellationToken cancellationToken)
    {
        if (before is not { } cutoff)
            return 0;
        var size = Math.Max(1, Settings.BatchSize);
        var total = 0;
        int removed;
        do
        {
            removed = await batch(cutoff, size, cancellationToken);
            total += removed;
        }
        // A long backlog outlasts a lease: renewed between batches, and given up to another orchestrator if it took the job meanwhile.
        while (removed >= size && await RunsTheJobAsync(cancellationToken));
        if (total > 0)
            metrics?.Removed(kind, total);
        return total;
    }
}
