using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>The task document as the API shows it.</summary>
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
    /// <summary>
    /// What a tenant may read of an error: its own quota and field details; not the details of an agent's failure
    /// (script positions, host state) nor of an election (the candidates are in the admin-only placement).
    /// </summary>
    public static TaskError? ForTenant(TaskError? error)
        => error is null || error.Code is ErrorCodes.QuotaExceeded or ErrorCodes.Validation ? error : error with { Details = null };

    /// <summary>Tenants do not see where their task runs: no agent, no placement decision.</summary>
    public static TaskView From(TaskState task, bool admin) => new(
        task.CorrelationId, task.TenantId, task.Action, admin || task.Target is null ? task.Target : task.Target with { AgentId = null },
        task.EnrichedData ?? task.Data, admin ? task.AgentId : null, task.Status, task.CurrentState,
        task.Timeline, task.Progress, admin ? task.Placement : null,
        new TaskQuotaView(task.QuotaDeltas, task.QuotaHold, task.QuotaHoldExpiresAt, task.QuotaOverLimit, task.QuotaHoldLapsed),
        task.Result, admin ? task.Error : ForTenant(task.Error), task.LateSuccess, task.CreatedAt, task.UpdatedAt, task.DeadlineAt, task.StartedAt, task.FinishedAt);
}

public sealed record TaskQuotaView(QuotaAmounts? Deltas, string? Hold, DateTimeOffset? HoldExpiresAt, bool OverLimit, bool HoldLapsed);

/// <summary>Body of 202 Accepted.</summary>
public sealed record TaskAcceptedView(Guid TaskId, string Status, string State, string? AgentId, string StatusUrl);
