using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Tasks stored for their agent in the same transaction as the task itself, so that a task leaves only once it is stored,
/// and is sent again after a crash; an entry goes once the agent has answered or the task has ended.
/// </summary>
public interface IAgentOutbox
{
    Task AddAsync(AgentTask task, DateTimeOffset at, CancellationToken cancellationToken);
    Task RemoveAsync(Guid taskId, CancellationToken cancellationToken);

    /// <summary>Entries stored before <paramref name="before"/>, oldest first, from the <paramref name="skip"/>th on.</summary>
    Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0);
}
