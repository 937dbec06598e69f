using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

/// <summary>
/// Which writes to the registry change what an election reads, so that the store's registry version moves and every
/// orchestrator's <see cref="AgentRegistryCache"/> is read again. A heartbeat that repeats the last one changes nothing
/// but the agent's last heard time, which a snapshot may keep: it expires before that time would make the agent offline.
/// </summary>
public static class AgentRegistryChanges
{
    /// <summary>
    /// A heartbeat after a silence of this many of the agent's intervals may bring it back online: it counts as a change. Never
    /// more than the intervals after which <see cref="AgentLiveness"/> takes an agent offline, and otherwise longer than a late
    /// heartbeat's jitter.
    /// </summary>
    public const double SilenceIntervals = 1.5;

    /// <param name="before">the agent's record as the heartbeat replaced it (null: a new agent)</param>
    public static bool ByHeartbeat(AgentRecord? before, AgentHeartbeat heartbeat, DateTimeOffset receivedAt, AgentFleetOptions fleet)
    {
        if (before is null)
            return true;
        var statedMs = AgentLiveness.StoredIntervalMs(heartbeat.IntervalSeconds);
        var silence = AgentLiveness.IntervalOf(before, fleet) * Math.Min(SilenceIntervals, Math.Max(1, fleet.MissedHeartbeats));
        return before.Host != heartbeat.Host
            || before.Version != heartbeat.Version
            || !before.Capabilities.SequenceEqual(heartbeat.Capabilities ?? [])
            || before.Capacity != heartbeat.Capacity
            || before.Free != heartbeat.Free
            || before.VmCount != heartbeat.VmCount
            || (long?)before.HeartbeatInterval?.TotalMilliseconds != statedMs
            || before.Generation != (heartbeat.Generation ?? MixedFleet.AgentGenerations.Current)
            || before.StoppingAt is not null
            || heartbeat.Status == AgentStatuses.Stopping
            || receivedAt - before.LastHeartbeatAt > silence;
    }
}
