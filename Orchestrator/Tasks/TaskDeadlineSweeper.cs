using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// Deadlines live in the task rows, so they survive a restart: this sweeper finds the ones that
/// passed and tells the saga, which fails the task if it is still in that state. It also finds tasks their agent has not
/// started by their pickup time (outbox entries past it), and expires quota holds past their TTL. Of several orchestrators
/// sharing a store, the one holding the job's lease sweeps.
/// </summary>
public sealed class TaskDeadlineSweeper(
    ITaskStore tasks,
    Pipeline.IAgentOutbox outbox,
    QuotaLedger quotas,
    IBus bus,
    Cluster.JobLeaseKeeper leases,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<TaskDeadlineSweeper> logger) : Cluster.PeriodicJob("Deadline sweep", clock, logger, leases, Cluster.ClusterJobs.DeadlineSweep)
{
    private readonly Dictionary<(Guid, string, DateTimeOffset), DateTimeOffset> _signalled = [];
    private readonly DateTimeOffset _startedAt = clock.GetUtcNow();

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override async Task WorkAsync(CancellationToken cancellationToken)
    {
        var now = Clock.GetUtcNow();
        foreach (var (taskId, state, deadlineAt) in await tasks.FindExpiredAsync(now, 500, cancellationToken))
        {
            // Signal each deadline once, then again only if the saga has not acted on it for a while.
            var key = (taskId, state, deadlineAt);
            if (_signalled.TryGetValue(key, out var at) && now - at < TimeSpan.FromSeconds(10))
                continue;
            _signalled[key] = now;
            await bus.Publish(new TaskDeadlineExpired(taskId, state, deadlineAt), cancellationToken);
        }
        // Right after a start, 'started' messages sent while this process was away may still wait in the results queue: a task is
        // not taken for unpicked before one pickup window has passed here.
        var unpickedTasks = now - _startedAt < options.Value.Agents.PickupWindow ? [] : await outbox.FindUnpickedAsync(now, 500, cancellationToken);
        foreach (var unpicked in unpickedTasks)
        {
            var key = (unpicked.TaskId, "pickup#" + unpicked.Attempt, unpicked.NotAfter ?? default);
            if (_signalled.TryGetValue(key, out var at) && now - at < TimeSpan.FromSeconds(10))
                continue;
            _signalled[key] = now;
            await bus.Publish(new TaskPickupExpired(unpicked.TaskId, unpicked.Attempt), cancellationToken);
        }
        foreach (var stale in _signalled.Where(x => now - x.Value > TimeSpan.FromMinutes(1)).Select(x => x.Key).ToList())
            _signalled.Remove(stale);

        var expired = await quotas.ExpireAsync(now, cancellationToken);
        if (expired > 0)
            Logger.LogInformation("Expired {Count} quota hold(s)", expired);
    }
}
