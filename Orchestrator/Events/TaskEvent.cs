namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// One entry of the task event log: a task's transition as <c>task.events</c> carries it, numbered. <see cref="Sequence"/> grows
/// in commit order across all tasks, so a reader that has seen up to N misses nothing by asking for what comes after N.
/// </summary>
public sealed record TaskEvent(
    long Sequence,
    Guid TaskId,
    string TenantId,
    string Action,
    string? From,
    string To,
    string Status,
    DateTimeOffset At,
    string? ErrorCode)
{
    /// <summary><c>&lt;action&gt;.&lt;status&gt;</c>, for example <c>vm.create.SUCCESS</c>: what subscriptions filter on.</summary>
    public string Type => $"{Action}.{Status}";
}
