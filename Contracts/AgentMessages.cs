using System.Text.Json;

namespace OpenHvx.Contracts;

// Messages between the orchestrator and the agents. On RabbitMQ they travel as plain JSON
// (camelCase) in the shapes of the original OpenHVX agent, with fields added, none renamed.

/// <summary>Task to agent: exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;</c>.</summary>
public sealed record AgentTask(Guid TaskId, string TenantId, string AgentId, string Action, JsonElement Data, string CorrelationId, TaskTarget? Target = null);

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
    DateTimeOffset FinishedAt);

/// <summary>CPU in vCPUs (after the agent's overcommit ratio), memory and storage in MB.</summary>
public sealed record AgentCapacity(long Cpu, long MemoryMB, long StorageMB);

/// <summary>Heartbeat: exchange <c>agent.telemetry</c>, routing key <c>heartbeat.&lt;agentId&gt;</c>.</summary>
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
    IReadOnlyList<DatastoreCapacity>? Datastores = null);

public sealed record DatastoreCapacity(string Id, long CapacityMB, long FreeMB);

/// <summary>A progress note from the agent while a task runs (kept on the task, newest last).</summary>
public sealed record AgentTaskProgress(Guid TaskId, string AgentId, string Message, DateTimeOffset At);

/// <summary>Inventory: exchange <c>agent.telemetry</c>, routing key <c>inventory.&lt;agentId&gt;</c>; <see cref="Inventory"/> in the canonical shape (schemaVersion 1.0.0).</summary>
public sealed record AgentInventory(string AgentId, DateTimeOffset Ts, JsonElement Inventory);
