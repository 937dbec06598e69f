namespace OpenHvx.Orchestrator.Agents;

/// <summary>
/// Whether an agent is online, and if not, why: it said it was stopping; it missed <see cref="AgentFleetOptions.MissedHeartbeats"/>
/// of its heartbeat intervals; or the broker shows nobody consuming its task queue (a killed process, a lost connection).
/// </summary>
public static class AgentLiveness
{
    private static readonly TimeSpan ShortestInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestInterval = TimeSpan.FromHours(1);

    /// <summary>The interval a heartbeat states, as stored: null when absent or outside 100 ms to 1 h (an agent's word, not trusted further).</summary>
    public static long? StoredIntervalMs(double? seconds)
        => seconds is { } s && double.IsFinite(s) && s * 1000 >= ShortestInterval.TotalMilliseconds && s * 1000 <= LongestInterval.TotalMilliseconds
            ? (long)(s * 1000)
            : null;

    /// <summary>Whether the agent honours a task's not-after time (its heartbeats state their interval, as agents of this generation do).</summary>
    public static bool HonoursNotAfter(AgentRecord agent) => agent.HeartbeatInterval is not null;

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
