using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

public sealed record AgentView(
    string AgentId, string Host, string Version, DateTimeOffset LastHeartbeatAt, double HeartbeatAgeSeconds, bool Online,
    IReadOnlyList<string> Capabilities, AgentCapacity? Capacity, AgentCapacity? Free, AgentCapacity InFlightHolds, int VmCount)
{
    /// <summary>The last canonical inventory (single-agent view only).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public System.Text.Json.JsonElement? Inventory { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? InventoryAt { get; init; }

    public static AgentView From(AgentRecord agent, DateTimeOffset now, ElectionOptions election)
    {
        var age = (now - agent.LastHeartbeatAt).TotalSeconds;
        return new AgentView(agent.AgentId, agent.Host, agent.Version, agent.LastHeartbeatAt, Math.Round(age, 1),
            age <= election.HeartbeatFreshness.TotalSeconds, agent.Capabilities, agent.Capacity, agent.Free, agent.InFlight, agent.VmCount);
    }
}
