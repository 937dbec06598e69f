using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Cluster;

/// <summary>
/// Which shared background jobs this orchestrator runs now. A job's loop asks <see cref="HoldsAsync"/> on each tick and works only
/// when it holds the job's lease; the lease is written only when half of it has passed, so a tick costs no write. The keeper also
/// holds this process's own instance lease (who is alive) and gives every lease up when the process stops.
/// Leases avoid doing the work twice; correctness never rests on them (the saga's versions and conditional updates do that).
/// </summary>
public sealed class JobLeaseKeeper(IJobLeases leases, OrchestratorInstance instance, TimeProvider clock, IOptions<OrchestratorOptions> options,
    ILogger<JobLeaseKeeper> logger) : PeriodicJob("Instance lease renewal", clock, logger)
{
    // When each held lease was last taken or renewed, and when another's was last refused: monotonic timestamps, so that a wall clock
    // set back cannot make this process believe it holds a lease longer than it does (the store compares wall times, across processes).
    private readonly ConcurrentDictionary<string, long> _held = new();
    // A lease another holds is not asked for again within a quarter of its duration: a job woken by every commit must not write on each.
    private readonly ConcurrentDictionary<string, long> _refused = new();

    private TimeSpan Duration => options.Value.Leases.Duration;

    public string InstanceId => instance.Id;

    private string InstanceJob => ClusterJobs.InstancePrefix + instance.Id;

    /// <summary>True while this process holds (took or renewed) the lease of <paramref name="job"/>.</summary>
    public async Task<bool> HoldsAsync(string job, CancellationToken cancellationToken)
    {
        if (_held.TryGetValue(job, out var renewed) && Clock.GetElapsedTime(renewed) < Duration / 2)
            return true;
        if (_refused.TryGetValue(job, out var refused) && Clock.GetElapsedTime(refused) < Duration / 4)
            return false;
        // Read before the write, so the lease is counted from no later than the store's start of it.
        var asked = Clock.GetTimestamp();
        var taken = await leases.TryAcquireAsync(job, instance.Id, Clock.GetUtcNow(), Duration, cancellationToken);
        if (taken)
        {
            if (!_held.ContainsKey(job))
                Logger.LogInformation("This orchestrator ({Instance}) now runs the shared job {Job}", instance.Id, job);
            _held[job] = asked;
        }
        else
        {
            _refused[job] = asked;
            if (_held.TryRemove(job, out _))
                Logger.LogInformation("Another orchestrator runs the shared job {Job} now", job);
        }
        return taken;
    }

    /// <summary>The ids of the orchestrators alive now (their instance leases have not lapsed), this one included.</summary>
    public async Task<IReadOnlySet<string>> LiveInstancesAsync(CancellationToken cancellationToken)
    {
        var live = (await leases.ListAsync(ClusterJobs.InstancePrefix, Clock.GetUtcNow(), cancellationToken)).Select(l => l.Holder).ToHashSet();
        live.Add(instance.Id);
        return live;
    }

    protected override TimeSpan Interval => Duration / 3;

    // Written on every tick, not at half-life as a job's: the others read from it that this process is alive, and a renewal delayed
    // by a busy store must still land well before the lease lapses.
    protected override async Task WorkAsync(CancellationToken cancellationToken)
    {
        var asked = Clock.GetTimestamp();
        if (await leases.TryAcquireAsync(InstanceJob, instance.Id, Clock.GetUtcNow(), Duration, cancellationToken))
            _held[InstanceJob] = asked;
    }

    protected override ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        Logger.LogDebug(exception, "This orchestrator's instance lease could not be renewed; retrying");
        return ValueTask.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var job in _held.Keys)
        {
            try
            {
                await leases.ReleaseAsync(job, instance.Id, cancellationToken);
            }
            catch (Exception ex)
            {
                Logger.LogDebug(ex, "Lease {Job} not released; it lapses by itself", job);
            }
        }
        _held.Clear();
    }
}
