using OpenHvx.Contracts;
using Microsoft.Extensions.Options;

namespace OpenHvx.Orchestrator.Agents;

/// <summary>
/// The registry as elections read it. The agents' records are read once and reused while the store's registry version
/// (<see cref="IAgentStore.RegistryVersionAsync"/>, moved by <see cref="AgentRegistryChanges"/>) stays the same, until the first
/// of them would go offline for want of a heartbeat, and at most <see cref="AgentFleetOptions.RegistrySnapshotMaxAge"/>; what
/// other tasks' placements take is read at every election, in its transaction. An election over a thousand agents then costs
/// two small reads instead of a thousand rows. Eligibility and scores are those of a fresh read; a heartbeat that repeats the
/// last one is not re-read, so among equal scores the tie goes to the freshest heartbeat the snapshot holds.
/// </summary>
public sealed class AgentRegistryCache(IAgentStore store, TimeProvider clock, IOptions<OrchestratorOptions> options)
{
    private static readonly AgentCapacity Nothing = new(0, 0, 0);

    private sealed record Snapshot(long Version, IReadOnlyList<AgentRecord> Agents, DateTimeOffset ValidUntil);

    private Snapshot? _snapshot;
    private long _reads;

    /// <summary>How many times the agents' records were read (for tests and the bench).</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>
    /// Every agent, with what tasks other than <paramref name="taskId"/> take on it (<see cref="AgentRecord.InFlight"/>), and the
    /// time the records hold for: the election judges liveness at that time, never past the snapshot's validity.
    /// </summary>
    public async Task<(IReadOnlyList<AgentRecord> Agents, DateTimeOffset Now)> ForElectionAsync(Guid taskId, CancellationToken cancellationToken)
    {
        var inFlight = await store.InFlightAsync(taskId, cancellationToken);
        var version = await store.RegistryVersionAsync(cancellationToken);
        var now = clock.GetUtcNow();
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is null || snapshot.Version != version || now >= snapshot.ValidUntil)
        {
            // The version is read before the records: a change between the two makes the next election read them again.
            var agents = await store.ListAsync(cancellationToken);
            Interlocked.Increment(ref _reads);
            snapshot = new Snapshot(version, agents, ValidUntil(agents, now));
            Volatile.Write(ref _snapshot, snapshot);
        }
        return ([.. snapshot.Agents.Select(agent => agent with { InFlight = inFlight.GetValueOrDefault(agent.AgentId, Nothing) })], now);
    }

    /// <summary>Until the first agent online now would be taken offline by its silence, within the longest reuse allowed.</summary>
    private DateTimeOffset ValidUntil(IReadOnlyList<AgentRecord> agents, DateTimeOffset now)
    {
        var fleet = options.Value.Agents;
        var until = now + fleet.RegistrySnapshotMaxAge;
        foreach (var agent in agents)
        {
            var heardUntil = AgentLiveness.HeardUntil(agent, fleet);
            if (heardUntil >= now && heardUntil < until)
                until = heardUntil;
        }
        return until;
    }
}
