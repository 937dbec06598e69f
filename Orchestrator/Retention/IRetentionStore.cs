using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Retention;

/// <summary>
/// Storage primitives of <see cref="RetentionSweeper"/>: each call is one short transaction over at most <c>limit</c> rows and
/// returns how many it moved or deleted (fewer than <c>limit</c>: nothing more is due).
/// </summary>
public interface IRetentionStore
{
    /// <summary>
    /// Moves ended tasks (SUCCESS, FAILED, CANCELED) last changed at or before <paramref name="before"/> to the archive, and deletes
    /// what only they used: their task events, placements, VM locks and agent outbox entries. Dead letters are kept.
    /// </summary>
    Task<int> ArchiveFinishedTasksAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken);

    /// <summary>An archived task, as it was when it was archived; null when the archive does not hold it.</summary>
    Task<TaskState?> LoadArchivedAsync(Guid taskId, CancellationToken cancellationToken);

    /// <summary>Deletes idempotency keys claimed at or before <paramref name="before"/>.</summary>
    Task<int> DeleteIdempotencyKeysAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes quota ledger rows settled (committed, released, expired) at or before <paramref name="before"/> whose task has ended
    /// (or is archived). Held rows, rows of tasks still running and corrections (recount, reconciliation) are kept.
    /// </summary>
    Task<int> CompactSettledHoldsAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken);
}
