using System.ComponentModel;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// The filters of <c>GET /tasks</c>. Numbers arrive as text and are read by <see cref="Api.QueryFields"/>, so that a bad one is a field error
/// (422) like any other, not a binding failure.
/// </summary>
public sealed record TaskListQuery
{
    [Description("Admins: only this tenant's tasks (tenant users always see their own tenant's).")]
    public string? TenantId { get; init; }

    [Description("PENDING, RUNNING, SUCCESS, FAILED or CANCELED.")]
    public string? Status { get; init; }

    [Description("The saga state (Submitted, Validated, ..., Dispatched, Running, ...).")]
    public string? State { get; init; }

    [Description("The action (vm.create, ...).")]
    public string? Action { get; init; }

    [Description("Admins: the agent that runs or ran the task.")]
    public string? AgentId { get; init; }

    [Description("Only tasks created at least this many seconds ago (an integer).")]
    public string? OlderThanSeconds { get; init; }

    [Description("true: only tasks that have not ended (any status but SUCCESS, FAILED or CANCELED); with olderThanSeconds, the stuck ones.")]
    public string? InFlight { get; init; }

    [Description("Page size, 1 to 500 (default 50).")]
    public string? Limit { get; init; }

    [Description("Tasks to skip (default 0); the answer's nextOffset gives the next page.")]
    public string? Offset { get; init; }
}
