using System.Globalization;

namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// What a subscriber (an event stream, a webhook) is told of a task event, the same for tenants and admins: built from these fields
/// only. <see cref="Id"/> is the log's sequence number, the stream's event id and what <c>Last-Event-ID</c> resumes after.
/// </summary>
public sealed record TaskEventView(string Id, string Type, Guid TaskId, string TenantId, string Action, string? From, string State, string Status,
    DateTimeOffset At, string? ErrorCode)
{
    public static TaskEventView Of(TaskEvent e) => new(e.Sequence.ToString(CultureInfo.InvariantCulture), e.Type, e.TaskId, e.TenantId, e.Action,
        e.From, e.To, e.Status, e.At, e.ErrorCode);
}
