using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// The storage port of the task saga: the task documents, with optimistic concurrency on
/// <see cref="TaskState.Version"/>, and the queries of the API and the sweeper.
/// </summary>
public interface ITaskStore
{
    /// <summary>Inserts a new task (version 1); false when the id exists.</summary>
    Task<bool> TryInsertAsync(TaskState instance, CancellationToken cancellationToken);

    /// <summary>Writes the task if nobody changed it since it was loaded; otherwise throws <see cref="SagaVersionConflictException"/>.</summary>
    Task UpdateAsync(TaskState instance, CancellationToken cancellationToken);

    Task DeleteAsync(TaskState instance, CancellationToken cancellationToken);
    Task<TaskState?> LoadAsync(Guid id, CancellationToken cancellationToken);
    Task<IReadOnlyList<TaskState>> LoadAllAsync(CancellationToken cancellationToken);

    /// <summary>Newest first, filtered.</summary>
    Task<IReadOnlyList<TaskState>> QueryAsync(TaskQuery query, CancellationToken cancellationToken);

    /// <summary>Tasks in a non-final state whose deadline has passed.</summary>
    Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset DeadlineAt)>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}
