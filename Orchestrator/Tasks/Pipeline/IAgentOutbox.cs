using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Tasks stored for their agent in the same transaction as the task itself, so that a task leaves only once it is stored,
/// and is sent again after a crash; an entry goes once the agent has answered or the task has ended. Each entry belongs to the
/// orchestrator that stored it (<see cref="Cluster.OrchestratorInstance"/>), which sends it; a live one adopts the entries of one that is gone.
/// </summary>
public interface IAgentOutbox
{
    /// <summary>Stores (or replaces) the task's entry, owned by this orchestrator; past <paramref name="pickupBy"/>, an entry still there was not picked up.</summary>
    Task AddAsync(AgentTask task, DateTimeOffset at, DateTimeOffset? pickupBy, CancellationToken cancellationToken);

    /// <summary>An entry without a pickup time.</summary>
    Task AddAsync(AgentTask task, DateTimeOffset at, CancellationToken cancellationToken) => AddAsync(task, at, null, cancellationToken);
    Task RemoveAsync(Guid taskId, CancellationToken cancellationToken);

    /// <summary>Entries stored before <paramref name="before"/> (only <paramref name="owner"/>'s when given), oldest first, from the <paramref name="skip"/>th on.</summary>
    Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0, string? owner = null);

    /// <summary>Gives <paramref name="owner"/> the entries whose owner is not among <paramref name="liveOwners"/> (or unknown); how many.</summary>
    Task<long> AdoptAsync(string owner, IReadOnlySet<string> liveOwners, CancellationToken cancellationToken);

    /// <summary>How many entries wait for their agent's answer (one count, for the metrics).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Entries whose agent has not started them by their pickup time (<paramref name="now"/> or earlier), earliest first.</summary>
    Task<IReadOnlyList<AgentTask>> FindUnpickedAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}
