namespace OpenHvx.Orchestrator.DeadLetters;

/// <summary>The dead letters the orchestrator took from its error queues: listed for admins, replayed once.</summary>
public interface IDeadLetterStore
{
    /// <summary>Stores the entry; false when one with its id is already there (the same copy delivered again).</summary>
    Task<bool> TryAddAsync(DeadLetter letter, CancellationToken cancellationToken);

    Task<DeadLetter?> GetAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Newest first; only the task's when <paramref name="taskId"/> is given.</summary>
    Task<IReadOnlyList<DeadLetter>> ListAsync(Guid? taskId, int limit, int offset, CancellationToken cancellationToken);

    /// <summary>How many entries the store holds, replayed or not (one count, for the metrics).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Marks the entry replayed at <paramref name="at"/>; false when it is unknown or was already replayed.</summary>
    Task<bool> MarkReplayedAsync(Guid id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Takes back a mark whose replay could not be handed on.</summary>
    Task UnmarkReplayedAsync(Guid id, CancellationToken cancellationToken);
}
