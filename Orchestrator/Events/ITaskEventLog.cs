using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// The persisted log of every task transition, written in the transition's own store transaction (an event exists exactly when its
/// transition does). Server-sent event streams and webhook deliveries read it; neither needs the broker.
/// </summary>
public interface ITaskEventLog
{
    /// <summary>Appends the transition (joining the running transaction) and returns its sequence number.</summary>
    Task<long> AppendAsync(TaskStateChanged change, CancellationToken cancellationToken);

    Task<IReadOnlyList<TaskEvent>> ReadAsync(TaskEventQuery query, CancellationToken cancellationToken);

    /// <summary>The newest sequence number (0 when the log is empty): where a reader that wants only what comes next starts.</summary>
    Task<long> LastSequenceAsync(CancellationToken cancellationToken);
}
