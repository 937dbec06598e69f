using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// Which generation an agent is, known from its heartbeat: ours state their interval (and their capacity); the original
/// OpenHVX agent sends only <c>{version, agentId, ts, host, capabilities}</c>.
/// </summary>
public static class AgentGenerations
{
    public const string Current = "current";
    public const string Original = "original";

    public static bool IsOriginal(AgentHeartbeat heartbeat) => heartbeat.IntervalSeconds is null && heartbeat.Capacity is null && heartbeat.Status is null;

    /// <summary>As stored: an agent whose heartbeats do not state their interval.</summary>
    public static bool IsOriginal(AgentRecord agent) => agent.HeartbeatInterval is null;

    public static string Of(AgentRecord agent) => IsOriginal(agent) ? Original : Current;
}
