using System.Text.Json;

namespace OpenHvx.Contracts;

// Commands the task saga sends to its step consumers, and the events they answer with.
// Every message carries the task id, which is the saga's correlation id.

public sealed record ValidateTask(Guid TaskId, string TenantId, string Action, TaskTarget? Target, JsonElement Data);

public sealed record TaskValidated(Guid TaskId);

public sealed record ElectAgent(Guid TaskId, string TenantId, string Action, TaskTarget? Target, JsonElement Data);

public sealed record AgentElected(Guid TaskId, string AgentId, ElectionDecision Decision);

public sealed record EnrichTask(Guid TaskId, string TenantId, string Action, string AgentId, JsonElement Data, TaskTarget? Target = null);

public sealed record TaskEnriched(Guid TaskId, JsonElement Data, QuotaAmounts QuotaDeltas);

public sealed record HoldQuota(Guid TaskId, string TenantId, string Action, string AgentId, QuotaAmounts Deltas);

public sealed record QuotaHeld(Guid TaskId, DateTimeOffset ExpiresAt);

public sealed record DispatchTask(Guid TaskId, string TenantId, string AgentId, string Action, JsonElement Data, TaskTarget? Target = null);

public sealed record TaskDispatched(Guid TaskId, string AgentId, DateTimeOffset DispatchedAt);

/// <summary>A step refused the task (or could not run); the saga fails it with this code.</summary>
public sealed record TaskStepFailed(Guid TaskId, string Step, string Code, string Message, JsonElement? Details, ElectionDecision? Decision = null);

/// <summary>Published by the sweeper when a task has not moved from <paramref name="State"/> since <paramref name="UpdatedAt"/> for a while.</summary>
public sealed record TaskStepStalled(Guid TaskId, string State, DateTimeOffset UpdatedAt);

/// <summary>Published by the deadline sweeper when a task's persisted deadline for <paramref name="State"/> has passed.</summary>
public sealed record TaskDeadlineExpired(Guid TaskId, string State, DateTimeOffset DeadlineAt);

public sealed record ElectionCandidate(
    string AgentId,
    bool Eligible,
    double Score,
    string? Reason,
    long FreeCpu,
    long FreeMemoryMB,
    long FreeStorageMB,
    double HeartbeatAgeSeconds);

/// <summary>The placement decision stored on the task: the chosen agent and why every other was not chosen.</summary>
public sealed record ElectionDecision(string? AgentId, QuotaAmounts Requirement, IReadOnlyList<ElectionCandidate> Candidates);
