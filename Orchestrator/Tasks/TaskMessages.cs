using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks;

// The orchestrator's own messages (API to saga, sweeper to saga): they never leave its process's bus.

/// <summary>API to saga (request/response): a validated envelope to run as a task.</summary>
/// <param name="SubmittedByAdmin">an admin submitted it (on the admin route), not a tenant's user</param>
/// <param name="RetryOf">the task this one retries (POST .../retry)</param>
/// <param name="ExcludedAgents">agents an admin excluded: never elected for this task</param>
/// <param name="SubmissionRequestId">the X-Request-Id of the HTTP request that submitted it, for the task's log lines</param>
public sealed record SubmitTask(
    Guid TaskId,
    string TenantId,
    string Action,
    TaskTarget? Target,
    JsonElement Data,
    string? SubmittedBy,
    DateTimeOffset SubmittedAt,
    bool SubmittedByAdmin = false,
    Guid? RetryOf = null,
    IReadOnlyList<string>? ExcludedAgents = null,
    string? SubmissionRequestId = null);

/// <summary>Saga to saga: <paramref name="RetryId"/>, a retry of <paramref name="TaskId"/>, was begun; the retried task records it.</summary>
public sealed record TaskRetried(Guid TaskId, Guid RetryId);

/// <summary>Saga to API: the task was stored and dispatched (or has already finished).</summary>
public sealed record TaskAccepted(Guid TaskId, string Status, string State, string? AgentId);

/// <summary>Saga to API: the task was refused before dispatch.</summary>
public sealed record TaskRejected(Guid TaskId, string Code, string Message, JsonElement? Details);

/// <summary>API to saga (request/response): stop the task. Answered with <see cref="TaskCancelAnswered"/>, or <see cref="TaskNotFound"/>.</summary>
/// <param name="RequestedBy">the user who asked (the token's subject)</param>
/// <param name="ByAdmin">an admin asked (on the admin route), not a tenant's user</param>
public sealed record CancelTask(Guid TaskId, string? RequestedBy, bool ByAdmin, DateTimeOffset RequestedAt);

/// <summary>Saga to API: the task's status once the cancel was handled; <paramref name="AlreadyFinal"/> when it had ended before (nothing changed).</summary>
public sealed record TaskCancelAnswered(Guid TaskId, string Status, string State, bool AlreadyFinal);

/// <summary>Saga to API: there is no such task.</summary>
public sealed record TaskNotFound(Guid TaskId);

/// <summary>The task's agent has not started <paramref name="Attempt"/> by its pickup time (found in the outbox by the sweeper).</summary>
public sealed record TaskPickupExpired(Guid TaskId, int Attempt);

/// <summary>Published by the deadline sweeper when a task's stored deadline for <paramref name="State"/> has passed.</summary>
public sealed record TaskDeadlineExpired(Guid TaskId, string State, DateTimeOffset DeadlineAt);
