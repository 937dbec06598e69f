using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

/// <summary>What the registry knows of an agent, plus what unfinished tasks placed on it will take.</summary>
public sealed record AgentRecord(
    string AgentId,
    string Host,
    string Version,
    DateTimeOffset LastHeartbeatAt,
    IReadOnlyList<string> Capabilities,
    AgentCapacity? Capacity,
    AgentCapacity? Free,
    int VmCount,
    AgentCapacity InFlight);

/// <summary>What an elected, unfinished task will take on its agent (until its heartbeats show it).</summary>
public sealed record AgentPlacement(Guid TaskId, string AgentId, AgentCapacity Requirement);

/// <summary>
/// Storage primitives of the agent registry and of placements; the election's rules are <see cref="AgentElection"/>'s and the
/// placement's <see cref="Tasks.Pipeline.ElectStep"/>'s. Every call joins the running store transaction.
/// </summary>
public interface IAgentStore
{
    Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default);
    Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default);

    Task<AgentPlacement?> GetPlacementAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>Every agent, with what other tasks' placements take on it (<see cref="AgentRecord.InFlight"/>).</summary>
    Task<IReadOnlyList<AgentRecord>> ListForElectionAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>Stores (or moves) the task's placement.</summary>
    Task PlaceAsync(AgentPlacement placement, CancellationToken cancellationToken = default);

    Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default);

    Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);
    Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default);
}
