using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// Which generation an agent is, known from its heartbeat: ours state their interval, status and capacity; the original
/// OpenHVX agent sends only <c>{version, agentId, ts, host, capabilities}</c>.
/// </summary>
public static class AgentGenerations
{
    public const string Current = "current";
    public const string Original = "original";

    /// <summary>The generation a heartbeat's shape shows: decided here once, stored with the agent, and read from there.</summary>
    public static string Of(AgentHeartbeat heartbeat)
        => heartbeat.IntervalSeconds is null && heartbeat.Capacity is null && heartbeat.Status is null ? Original : Current;

    public static bool IsOriginal(AgentRecord agent) => agent.Generation == Original;
}
