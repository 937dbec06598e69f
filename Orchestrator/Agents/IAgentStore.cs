using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

/// <summary>What the registry knows of an agent, plus what tasks placed on it take that its heartbeats do not show yet.</summary>
/// <param name="Status">what an admin set: <see cref="AgentAdminStatus.Active"/> or <see cref="AgentAdminStatus.Draining"/></param>
/// <param name="HeartbeatInterval">how often the agent said it sends heartbeats (null: it did not say)</param>
/// <param name="StoppingAt">when the agent said it was shutting down (null once it heartbeats again)</param>
/// <param name="ConsumersLostAt">since when the broker has shown no consumer on the agent's task queue (null: one is there, or unknown)</param>
/// <param name="Generation">which generation of agent it is (<see cref="MixedFleet.AgentGenerations"/>), from its last heartbeat</param>
public sealed record AgentRecord(
    string AgentId,
    string Host,
    string Version,
    DateTimeOffset LastHeartbeatAt,
    IReadOnlyList<string> Capabilities,
    AgentCapacity? Capacity,
    AgentCapacity? Free,
    int VmCount,
    AgentCapacity InFlight,
    string Status = AgentAdminStatus.Active,
    TimeSpan? HeartbeatInterval = null,
    DateTimeOffset? StoppingAt = null,
    DateTimeOffset? ConsumersLostAt = null,
    string Generation = MixedFleet.AgentGenerations.Current);

/// <summary>What an elected task takes on its agent: while it runs, and after it succeeded until a heartbeat taken since shows it.</summary>
public sealed record AgentPlacement(Guid TaskId, string AgentId, AgentCapacity Requirement);

/// <summary>What an admin sets on an agent (<c>PATCH /api/v1/admin/agents/{agentId}</c>).</summary>
public static class AgentAdminStatus
{
    public const string Active = "active";
    /// <summary>Never elected; its tasks in flight finish.</summary>
    public const string Draining = "draining";

    public static bool IsKnown(string? status) => status is Active or Draining;
}

/// <summary>
/// Storage primitives of the agent registry and of placements; the election's rules are <see cref="AgentElection"/>'s and the
/// placement's <see cref="Tasks.Pipeline.ElectStep"/>'s. Every call joins the running store transaction.
/// </summary>
public interface IAgentStore
{
    /// <summary>
    /// Records the heartbeat, and lets go of the agent's settled placements that it shows (those settled at or before the
    /// heartbeat's <see cref="AgentHeartbeat.Ts"/>, both on the agent's clock). Moves the registry version when
    /// <see cref="AgentRegistryChanges.ByHeartbeat"/> says so.
    /// </summary>
    Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);

    /// <summary>Sets what an admin decides (<see cref="AgentAdminStatus"/>); false when the agent is not registered.</summary>
    Task<bool> SetStatusAsync(string agentId, string status, CancellationToken cancellationToken = default);

    /// <summary>Records what the broker says of the agent's task queue: a consumer is there, or since when none is.</summary>
    Task SetConsumersLostAsync(string agentId, DateTimeOffset? lostAt, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default);
    Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default);

    Task<AgentPlacement?> GetPlacementAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// What the placements of tasks other than <paramref name="taskId"/> take on each agent that has any. Read by each election in
    /// its transaction (on MongoDB it takes the election guard first: concurrent elections conflict and all but one are retried,
    /// so two of them cannot both count the same free capacity).
    /// </summary>
    Task<IReadOnlyDictionary<string, AgentCapacity>> InFlightAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// A number that moves whenever the registry changes in a way an election reads (<see cref="AgentRegistryChanges"/>): a new
    /// agent, a heartbeat that differs from the last or ends a silence, a status, a queue consumer lost or back.
    /// </summary>
    Task<long> RegistryVersionAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores (or moves) the task's placement.</summary>
    Task PlaceAsync(AgentPlacement placement, CancellationToken cancellationToken = default);

    Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The task succeeded at <paramref name="finishedAt"/> (the agent's clock): its placement keeps counting until a heartbeat
    /// taken after that shows what it built.
    /// </summary>
    Task SettlePlacementAsync(Guid taskId, DateTimeOffset finishedAt, CancellationToken cancellationToken = default);

    Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);
    Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default);
}
