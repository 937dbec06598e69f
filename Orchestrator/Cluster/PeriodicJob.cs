using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OpenHvx.Orchestrator.Cluster;

/// <summary>
/// A background loop that works every <see cref="Interval"/> (at start unless <see cref="WorksAtStart"/> is false, then on each tick of
/// a <see cref="PeriodicTimer"/>: a tick missed while the work ran comes at once, the others are dropped). A job shared among orchestrators names its lease
/// (<see cref="ClusterJobs"/>), asked of the <see cref="JobLeaseKeeper"/> on each tick: only the holder works. A failed tick is logged
/// (<see cref="OnFailedAsync"/>) and the loop goes on at the next one; only stopping ends it.
/// </summary>
/// <param name="name">What the job is, in a log line: "{name} failed; retrying at the next interval".</param>
/// <param name="lease">The job's lease, when one orchestrator at a time runs it; null: every orchestrator does.</param>
public abstract class PeriodicJob(string name, TimeProvider clock, ILogger logger, JobLeaseKeeper? leases = null, string? lease = null)
    : BackgroundService
{
    private readonly JobLeaseKeeper? _leases = lease is null || leases is not null ? leases
        : throw new ArgumentNullException(nameof(leases), $"The job {name} has a lease ({lease}) but no lease keeper.");

    protected string Name { get; } = name;

    protected TimeProvider Clock { get; } = clock;

    protected ILogger Logger { get; } = logger;

    /// <summary>The time between two ticks, read once at start.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>False: the first tick comes one interval after start, not at start.</summary>
    protected virtual bool WorksAtStart => true;

    /// <summary>One tick's work, when this orchestrator runs the job.</summary>
    protected abstract Task WorkAsync(CancellationToken cancellationToken);

    /// <summary>True when this orchestrator runs the job now: it holds the job's lease, or the job has none.</summary>
    protected Task<bool> RunsTheJobAsync(CancellationToken cancellationToken)
        => lease is null ? Task.FromResult(true) : _leases!.HoldsAsync(lease, cancellationToken);

    /// <summary>One tick: the work when this orchestrator runs the job. False when another orchestrator runs it.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        if (!await RunsTheJobAsync(cancellationToken))
            return false;
        await WorkAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Says why a tick failed; <paramref name="inARow"/> counts the failed ticks since the last one that worked (1: the first).
    /// By default a transient store fault is a debug line (the store's own fault log has said why, once per burst; every tick here
    /// would bury it) and anything else a warning.
    /// </summary>
    protected virtual ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        if (Persistence.StorageFaults.IsTransient(exception))
            Logger.LogDebug(exception, "{Job} failed on the store; retrying at the next interval", Name);
        else
            Logger.LogWarning(exception, "{Job} failed; retrying at the next interval", Name);
        return ValueTask.CompletedTask;
    }

    /// <summary>A tick worked after <paramref name="failures"/> failed ones in a row.</summary>
    protected virtual void OnRecovered(int failures)
    {
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, Clock);
        if (!WorksAtStart && !await timer.WaitForNextTickAsync(stoppingToken))
            return;
        var failures = 0;
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
                if (failures > 0)
                    OnRecovered(failures);
                failures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                await OnFailedAsync(ex, ++failures);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
