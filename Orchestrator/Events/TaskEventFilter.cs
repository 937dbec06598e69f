namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// Which events a stream shows: <see cref="TenantId"/> and <see cref="TaskId"/> narrow the log query itself, <see cref="Action"/>
/// and <see cref="Status"/> (admin filters) are applied to what it returns.
/// </summary>
public sealed record TaskEventFilter(string? TenantId, Guid? TaskId, string? Action, string? Status)
{
    public bool Matches(TaskEvent e) => (Action is null || e.Action == Action) && (Status is null || e.Status == Status);

    public TaskEventQuery After(long sequence, int limit) => new(sequence, limit, TenantId, TaskId);
}
