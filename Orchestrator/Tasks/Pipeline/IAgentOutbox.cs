using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Tasks stored for their agent in the same transaction as the task itself, so that a task leaves only once it is stored,
/// and is sent again after a crash; an entry goes once the agent has answered or the task has ended.
/// </summary>
public interface IAgentOutbox
{
    /// <summary>Stores (or replaces) the task's entry; past <paramref name="pickupBy"/>, an entry still there was not picked up.</summary>
    Task AddAsync(AgentTask task, DateTimeOffset at, DateTimeOffset? pickupBy, CancellationToken cancellationToken);

    /// <summary>An entry without a pickup time.</summary>
    Task AddAsync(AgentTask task, DateTimeOffset at, CancellationToken cancellationToken) => AddAsync(task, at, null, cancellationToken);
    Task RemoveAsync(Guid taskId, CancellationToken cancellationToken);

    /// <summary>Entries stored before <paramref name="before"/>, oldest first, from the <paramref name="skip"/>th on.</summary>
    Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0);

    /// <summary>How many entries wait for their agent's answer (one count, for the metrics).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Entries whose agent has not started them by their pickup time (<paramref name="now"/> or earlier), earliest first.</summary>
    Task<IReadOnlyList<AgentTask>> FindUnpickedAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}
