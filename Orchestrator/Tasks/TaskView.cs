using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>The task document as an admin reads it: everything, placement and agent included.</summary>
public sealed record TaskView(
    Guid TaskId,
    string TenantId,
    string Action,
    TaskTarget? Target,
    JsonElement Data,
    string? AgentId,
    string Status,
    string State,
    IReadOnlyList<TimelineEntry> Timeline,
    IReadOnlyList<ProgressEntry> Progress,
    ElectionDecision? Placement,
    TaskQuotaView Quota,
    JsonElement? Result,
    TaskError? Error,
    bool LateSuccess,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeadlineAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt)
{
    /// <summary>The task's dead letters (the admin's view of one task; absent from lists).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DeadLetters.DeadLetterView>? DeadLetters { get; init; }

    /// <summary>True when the task was read from the archive (ended longer ago than Retention.FinishedTasks); absent otherwise.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? Archived { get; init; }

    /// <summary>The task this one retries, and the retry of this one.</summary>
    public Guid? RetryOf { get; init; }
    public Guid? RetriedBy { get; init; }
    /// <summary>Agents an admin excluded when retrying: never elected for this task.</summary>
    public IReadOnlyList<string> ExcludedAgents { get; init; } = [];

    public static TaskView From(TaskState task) => new(
        task.CorrelationId, task.TenantId, task.Action, task.Target, task.EnrichedData ?? task.Data, task.AgentId, task.Status, task.CurrentState,
        task.Timeline, task.Progress, task.Placement, TaskQuotaView.From(task), task.Result, task.Error, task.LateSuccess,
        task.CreatedAt, task.UpdatedAt, task.DeadlineAt, task.StartedAt, task.FinishedAt)
    {
        RetryOf = task.RetryOf,
        RetriedBy = task.RetriedBy,
        ExcludedAgents = task.ExcludedAgents,
    };

    /// <summary>The view the caller may read: the whole document for admins, the tenant's allow-list for tenants.</summary>
    public static object For(TaskState task, Caller caller, TaskActionCatalog actions)
        => caller.IsAdmin ? From(task) : TenantTaskView.From(task, actions);
}

/// <summary>
/// What a tenant reads of its own task, built field by field from what is safe to show: no agent, host, placement, paths
/// or progress text; the data and result through the action's allow-lists; errors as <see cref="TenantTaskError"/>.
/// </summary>
public sealed record TenantTaskView(
    Guid TaskId,
    string TenantId,
    string Action,
    TenantTargetView? Target,
    JsonElement? Data,
    string Status,
    string State,
    IReadOnlyList<TimelineEntry> Timeline,
    TaskQuotaView Quota,
    JsonElement? Result,
    TenantTaskError? Error,
    bool LateSuccess,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? DeadlineAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt)
{
    /// <summary>The task this one retries, and the retry of this one (both the tenant's own).</summary>
    public Guid? RetryOf { get; init; }
    public Guid? RetriedBy { get; init; }

    public static TenantTaskView From(TaskState task, TaskActionCatalog actions)
    {
        var known = actions.TryGet(task.Action, out var action);
        return new TenantTaskView(
            task.CorrelationId, task.TenantId, task.Action, task.Target is { } t ? new TenantTargetView(t.Kind, t.RefId) : null,
            known ? action.TenantData.Project(task.EnrichedData ?? task.Data) : null,
            task.Status, task.CurrentState,
            [.. task.Timeline.Select(e => new TimelineEntry(e.State, e.Status, e.At, e.Note))],
            TaskQuotaView.From(task),
            known ? action.TenantResult.Project(task.Result) : null,
            TenantTaskError.From(task.Error), task.LateSuccess, task.CreatedAt, task.UpdatedAt, task.DeadlineAt, task.StartedAt, task.FinishedAt)
        {
            RetryOf = task.RetryOf,
            RetriedBy = task.RetriedBy,
        };
    }
}

public sealed record TenantTargetView(string Kind, string? RefId);

/// <summary>
/// What a tenant reads of an error: the code always; the message only when the orchestrator wrote it (an agent's
/// message can name paths and hosts: a fixed text per code replaces it); details only of its own quota and fields.
/// </summary>
public sealed record TenantTaskError(string Code, string Message, JsonElement? Details)
{
    public static TenantTaskError? From(TaskError? error) => error is null ? null : new(error.Code, MessageOf(error), DetailsOf(error));

    private static string MessageOf(TaskError error)
        => error.FromAgent ? AgentMessage(error.Code)
        : error.Code == ErrorCodes.NoEligibleAgent ? "No host can take this task now (capacity or capability); retry later."
        : error.Message;

    private static JsonElement? DetailsOf(TaskError error)
        => !error.FromAgent && error.Code is ErrorCodes.QuotaExceeded or ErrorCodes.Validation ? error.Details : null;

    private static string AgentMessage(string code) => code switch
    {
        ErrorCodes.Timeout => "The operation did not finish within its time limit on the host.",
        ErrorCodes.Interrupted => "The host's agent stopped while running the task; what it had built was removed.",
        ErrorCodes.Canceled => "The task was canceled: the host did not run it, or stopped it and removed what it had built.",
        "ERR_VM_NOT_FOUND" => "The VM was not found on its host.",
        "ERR_INVALID_STATE" => "The VM's power state does not allow this operation.",
        "ERR_STOP_TIMEOUT" or "ERR_STOP_FAILED" => "The guest did not shut down; retry with the force option.",
        ErrorCodes.NameTaken => "A VM with that name already exists.",
        "ERR_INVALID_ARGUMENT" => "The host refused a value of the request.",
        _ => "The host could not complete the task.",
    };
}

public sealed record TaskQuotaView(QuotaAmounts? Deltas, string? Hold, DateTimeOffset? HoldExpiresAt, bool OverLimit, bool HoldLapsed)
{
    public static TaskQuotaView From(TaskState task) => new(task.QuotaDeltas, task.QuotaHold, task.QuotaHoldExpiresAt, task.QuotaOverLimit, task.QuotaHoldLapsed);
}

/// <summary>Body of 202 Accepted for an admin.</summary>
public sealed record TaskAcceptedView(Guid TaskId, string Status, string State, string? AgentId, string StatusUrl);

/// <summary>Body of 202 Accepted for a tenant: no agent.</summary>
public sealed record TenantTaskAcceptedView(Guid TaskId, string Status, string State, string StatusUrl);
