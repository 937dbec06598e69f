using System.Text.Json;

namespace OpenHvx.Contracts;

// Messages between the orchestrator and the agents. On RabbitMQ they travel as plain JSON
// (camelCase) in the shapes of the original OpenHVX agent, with fields added, none renamed.

/// <summary>Task to agent: exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;</c>.</summary>
/// <param name="Attempt">which dispatch of the task this is (1 first; a re-placement or re-dispatch adds one); echoed in the result</param>
/// <param name="NotAfter">the agent must not start the task after this time (it answers <c>ERR_EXPIRED</c> without running it):
/// the orchestrator may then give the task to another agent</param>
public sealed record AgentTask(Guid TaskId, string TenantId, string AgentId, string Action, JsonElement Data, string CorrelationId, TaskTarget? Target = null,
    int Attempt = 1, DateTimeOffset? NotAfter = null);

/// <summary>
/// Control message to an agent: stop the task (exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;.control</c>, queue
/// <c>agent.&lt;agentId&gt;.control</c>, apart from the tasks so that it never waits behind them). The agent stops the task's script and
/// removes what it built, or records the task as done without running it, and answers with a result: <c>ERR_CANCELED</c>, or the
/// result the task already had.
/// </summary>
/// <param name="Attempt">the attempt the orchestrator holds (echoed in an <c>ERR_CANCELED</c> result)</param>
/// <param name="Action">the task's action and <paramref name="TenantId"/> its tenant: what the agent needs to record a task it has not seen yet,
/// and to run the action's cleanup</param>
public sealed record AgentTaskCancel(Guid TaskId, string TenantId, string AgentId, string Action, int Attempt, DateTimeOffset RequestedAt);

/// <summary>The agent started running a task (status <c>running</c>).</summary>
public sealed record AgentTaskStarted(Guid TaskId, string AgentId, DateTimeOffset StartedAt);

public sealed record AgentError(string Code, string Message, JsonElement? Details = null);

/// <summary>Result of a task: exchange <c>results</c>, routing key <c>task.&lt;taskId&gt;</c>.</summary>
public sealed record AgentTaskResult(
    Guid TaskId,
    string AgentId,
    bool Ok,
    JsonElement? Result,
    AgentError? Error,
    DateTimeOffset? StartedAt,
    DateTimeOffset FinishedAt,
    int? Attempt = null);

/// <summary>
/// A result as it travels on RabbitMQ (<see cref="WireTopology.ResultRoutingKey"/>): <c>error</c> is the message as a string (empty on
/// success), the shape the original OpenHVX controller stores, with our code and details beside it.
/// </summary>
public sealed record AgentWireResult(
    Guid TaskId,
    string AgentId,
    bool Ok,
    JsonElement? Result,
    string Error,
    string? ErrorCode,
    JsonElement? ErrorDetails,
    DateTimeOffset? StartedAt,
    DateTimeOffset FinishedAt,
    int? Attempt)
{
    public static AgentWireResult From(AgentTaskResult result)
        => new(result.TaskId, result.AgentId, result.Ok, result.Result, result.Error?.Message ?? "", result.Error?.Code, result.Error?.Details,
            result.StartedAt, result.FinishedAt, result.Attempt);
}

/// <summary>CPU in vCPUs (after the agent's overcommit ratio), memory and storage in MB.</summary>
public sealed record AgentCapacity(long Cpu, long MemoryMB, long StorageMB);

/// <summary>Heartbeat: exchange <c>agent.telemetry</c>, routing key <c>heartbeat.&lt;agentId&gt;</c>.</summary>
/// <param name="Ts">when the agent began measuring what the heartbeat reports (the agent's clock)</param>
/// <param name="Status"><see cref="AgentStatuses.Active"/>, or <see cref="AgentStatuses.Stopping"/> when the agent is shutting down</param>
/// <param name="IntervalSeconds">how often this agent sends heartbeats</param>
public sealed record AgentHeartbeat(
    string Version,
    string AgentId,
    DateTimeOffset Ts,
    string Host,
    IReadOnlyList<string> Capabilities,
    AgentCapacity? Capacity,
    AgentCapacity? Free,
    int VmCount,
    int? LogicalProcessors = null,
    IReadOnlyList<DatastoreCapacity>? Datastores = null,
    string? Status = null,
    double? IntervalSeconds = null)
{
    /// <summary>
    /// Which generation of agent sent it (<c>current</c> or <c>original</c>), decided by the orchestrator from the heartbeat's shape
    /// when it arrives; never read from the wire.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Generation { get; init; }
}

public static class AgentStatuses
{
    public const string Active = "active";
    public const string Stopping = "stopping";
}

public sealed record DatastoreCapacity(string Id, long CapacityMB, long FreeMB);

/// <summary>A progress note from the agent while a task runs (kept on the task, newest last).</summary>
public sealed record AgentTaskProgress(Guid TaskId, string AgentId, string Message, DateTimeOffset At);

/// <summary>Inventory: exchange <c>agent.telemetry</c>, routing key <c>inventory.&lt;agentId&gt;</c>; <see cref="Inventory"/> in the canonical shape (schemaVersion 1.0.0).</summary>
/// <param name="Source">what produced it; the original agent's light inventory says <c>inventory.refresh.light</c> (also as header <c>x-source</c>)</param>
/// <param name="MergeMode">the original agent's <c>raw</c> or <c>patch-nondestructive</c> (also as header <c>x-merge-mode</c>)</param>
public sealed record AgentInventory(string AgentId, DateTimeOffset Ts, JsonElement Inventory, string? Source = null, string? MergeMode = null);
