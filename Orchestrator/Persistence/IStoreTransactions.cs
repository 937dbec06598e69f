namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// One store transaction around a piece of work: every store call made inside it joins it (SQLite: one write
/// transaction; MongoDB: one session transaction), so the work is stored whole or not at all.
/// </summary>
public interface IStoreTransactions
{
    /// <summary>Runs <paramref name="work"/> in a transaction (or in the one already running), commits, then runs what <see cref="AfterCommit"/> queued.</summary>
    Task<T> InTransactionAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken);

    /// <summary>
    /// Queues <paramref name="action"/> to run after the running transaction commits, never if it rolls back; actions run by
    /// <paramref name="stage"/>, then in the order they were queued.
    /// </summary>
    void AfterCommit(Func<Task> action, AfterCommitStage stage = AfterCommitStage.Events);
}

/// <summary>The order of what leaves after a commit: the waiting caller's answer, then the task's events, then its agent's task.</summary>
public enum AfterCommitStage
{
    Answer,
    Events,
    Delivery,
}
