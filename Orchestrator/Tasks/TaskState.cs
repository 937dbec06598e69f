using System.Text.Json;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>One task: the saga instance is the task document.</summary>
public sealed class TaskState : SagaStateMachineInstance, ISagaVersion
{
    public Guid CorrelationId { get; set; }
    /// <summary>Kept in its own column (field), not in the document: a document read back then compares equal when nothing changed.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Version { get; set; }
    public string CurrentState { get; set; } = "Initial";

    public string TenantId { get; set; } = "";
    public string Action { get; set; } = "";
    public TaskTarget? Target { get; set; }
    public JsonElement Data { get; set; }
    public JsonElement? EnrichedData { get; set; }
    public string? SubmittedBy { get; set; }
    /// <summary>An admin submitted it: it may clean up a disabled tenant (<see cref="Actions.ITaskAction.CleansUp"/>).</summary>
    public bool SubmittedByAdmin { get; set; }

    public string? AgentId { get; set; }
    public ElectionDecision? Placement { get; set; }
    /// <summary>Which dispatch of the task its agent holds (a re-placement or re-dispatch adds one); results of earlier ones change nothing.</summary>
    public int Attempt { get; set; } = 1;
    /// <summary>Agents that had the task and did not start it within the pickup window: never elected for it again.</summary>
    public List<string> TriedAgents { get; set; } = [];
    /// <summary>Agents an admin excluded when retrying a task: never elected for this one.</summary>
    public List<string> ExcludedAgents { get; set; } = [];
    /// <summary>When the current attempt's pickup window closes (its not-after time and the grace): its agent never starts it later. Null without a window.</summary>
    public DateTimeOffset? PickupBy { get; set; }
    public string Status { get; set; } = TaskStatuses.Pending;
    public List<TimelineEntry> Timeline { get; set; } = [];
    public List<ProgressEntry> Progress { get; set; } = [];

    public QuotaAmounts? QuotaDeltas { get; set; }
    public string? QuotaHold { get; set; }
    public DateTimeOffset? QuotaHoldExpiresAt { get; set; }
    public bool QuotaOverLimit { get; set; }
    /// <summary>The hold had lapsed (TTL) when the task succeeded: the charge was booked without it.</summary>
    public bool QuotaHoldLapsed { get; set; }

    public JsonElement? Result { get; set; }
    public TaskError? Error { get; set; }
    /// <summary>The agent succeeded after the task had failed (deadline): its quota was charged and its VM linked.</summary>
    public bool LateSuccess { get; set; }
    public string? ResourceId { get; set; }

    /// <summary>The task this one retries (same action, target and submitted data).</summary>
    public Guid? RetryOf { get; set; }
    /// <summary>The retry of this task, once that task's saga began it; a task is retried once, so a chain of retries is a line.</summary>
    public Guid? RetriedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? DeadlineAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    // Where the API waits for the saga's first answer (MassTransit request/response).
    public Guid? RequestId { get; set; }
    public Uri? ResponseAddress { get; set; }
    public bool Answered { get; set; }

    /// <summary>The X-Request-Id of the request that submitted the task: every log line of its handling carries it.</summary>
    public string? SubmissionRequestId { get; set; }
    /// <summary>
    /// The W3C trace context the task began in: its later messages (the agent's result, the deadline) are handled in the same trace,
    /// whatever context they arrive with (<see cref="TaskTraceFilter"/>).
    /// </summary>
    public string? TraceParent { get; set; }

    /// <summary>The agent has reported a result (success or failure) for this task.</summary>
    public bool AgentReported { get; set; }

    /// <summary>Who asked to cancel the task (<c>POST .../cancel</c>: the user, <c>admin:&lt;user&gt;</c> for an admin), and when.</summary>
    public string? CancelRequestedBy { get; set; }
    public DateTimeOffset? CancelRequestedAt { get; set; }

    /// <summary>A pre-dispatch step refused the task: the API answers with that step's error.</summary>
    public bool Rejected { get; set; }
}

public sealed record TimelineEntry(string State, string Status, DateTimeOffset At, string? Note = null);

public sealed record ProgressEntry(string Message, DateTimeOffset At);

/// <param name="FromAgent">the agent reported it: its message and details are the host's words, for admins only</param>
public sealed record TaskError(string Code, string Message, JsonElement? Details = null, bool FromAgent = false);

public static class QuotaHoldStatuses
{
    public const string Held = "held";
    public const string Committed = "committed";
    public const string Released = "released";
    public const string Expired = "expired";
}
