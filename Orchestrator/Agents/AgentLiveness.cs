namespace OpenHvx.Orchestrator.Agents;

/// <summary>
/// Whether an agent is online, and if not, why: it said it was stopping; it missed <see cref="AgentFleetOptions.MissedHeartbeats"/>
/// of its heartbeat intervals; or the broker shows nobody consuming its task queue (a killed process, a lost connection).
/// </summary>
public static class AgentLiveness
{
    public static (bool Online, string? Reason) Evaluate(AgentRecord agent, DateTimeOffset now, AgentFleetOptions options)
    {
        if (agent.StoppingAt is { } stoppingAt)
            return (false, $"stopped: the agent said it was shutting down at {stoppingAt:O}");
        var interval = agent.HeartbeatInterval is { } own && own > TimeSpan.Zero ? own : options.HeartbeatInterval;
        var age = now - agent.LastHeartbeatAt;
        if (age > interval * Math.Max(1, options.MissedHeartbeats))
            return (false, $"no heartbeat for {age.TotalSeconds:0} s (it sends one every {interval.TotalSeconds:0} s)");
        if (agent.ConsumersLostAt is { } lostAt)
            return (false, $"nothing consumes its task queue (the broker says so since {lostAt:O})");
        return (true, null);
    }
}
