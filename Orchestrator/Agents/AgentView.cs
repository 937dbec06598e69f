using System.Text.Json.Serialization;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

/// <param name="Online">heartbeating, not stopping, and (on RabbitMQ) consuming its task queue: see <see cref="AgentLiveness"/></param>
/// <param name="OfflineReason">why it is not online</param>
/// <param name="Status">what an admin set: <c>active</c> or <c>draining</c> (never elected)</param>
/// <param name="InFlightHolds">what tasks placed on it take that its heartbeats do not show yet</param>
public sealed record AgentView(
    string AgentId, string Host, string Version, DateTimeOffset LastHeartbeatAt, double HeartbeatAgeSeconds, bool Online,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? OfflineReason, string Status,
    IReadOnlyList<string> Capabilities, AgentCapacity? Capacity, AgentCapacity? Free, AgentCapacity InFlightHolds, int VmCount)
{
    /// <summary><c>current</c>, or <c>original</c> for the original OpenHVX agent (known from its heartbeat; driven in its own terms).</summary>
    public string Generation { get; init; } = MixedFleet.AgentGenerations.Current;

    /// <summary>The last canonical inventory (single-agent view only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public System.Text.Json.JsonElement? Inventory { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? InventoryAt { get; init; }

    public static AgentView From(AgentRecord agent, DateTimeOffset now, AgentFleetOptions fleet)
    {
        var (online, reason) = AgentLiveness.Evaluate(agent, now, fleet);
        return new AgentView(agent.AgentId, agent.Host, agent.Version, agent.LastHeartbeatAt, Math.Round((now - agent.LastHeartbeatAt).TotalSeconds, 1),
            online, reason, agent.Status, agent.Capabilities, agent.Capacity, agent.Free, agent.InFlight, agent.VmCount)
        {
            Generation = agent.Generation,
        };
    }
}
