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

    /// <summary>The interval the agent heartbeats at: its own word, else <see cref="AgentFleetOptions.HeartbeatInterval"/>.</summary>
    public static TimeSpan IntervalOf(AgentRecord agent, AgentFleetOptions options)
        => agent.HeartbeatInterval is { } own && own > TimeSpan.Zero ? own : options.HeartbeatInterval;

    /// <summary>Until when the agent's last heartbeat keeps it online, if nothing else takes it offline first.</summary>
    public static DateTimeOffset HeardUntil(AgentRecord agent, AgentFleetOptions options)
        => agent.LastHeartbeatAt + IntervalOf(agent, options) * Math.Max(1, options.MissedHeartbeats);

    public static (bool Online, string? Reason) Evaluate(AgentRecord agent, DateTimeOffset now, AgentFleetOptions options)
    {
        if (agent.StoppingAt is { } stoppingAt)
            return (false, $"stopped: the agent said it was shutting down at {stoppingAt:O}");
        if (now > HeardUntil(agent, options))
            return (false, $"no heartbeat for {(now - agent.LastHeartbeatAt).TotalSeconds:0} s (it sends one every {IntervalOf(agent, options).TotalSeconds:0} s)");
        if (agent.ConsumersLostAt is { } lostAt)
            return (false, $"nothing consumes its task queue (the broker says so since {lostAt:O})");
        return (true, null);
    }
}
