namespace OpenHvx.Orchestrator.Agents;

/// <summary>How the orchestrator judges its agents (section <c>Orchestrator:Agents</c>): trust, liveness, and the pickup window.</summary>
public sealed class AgentFleetOptions
{
    /// <summary>
    /// A result, heartbeat or inventory is accepted only when its AMQP user_id is the broker user of the agent it names
    /// (<c>agent.&lt;agentId&gt;</c>); RabbitMQ refuses a user_id other than the publishing connection's, so an agent cannot
    /// speak for another. Off means the agentId in the body is believed: only for agents that send no user_id (the original
    /// Go agent) on a broker where every agent user is trusted.
    /// </summary>
    public bool RequireBrokerIdentity { get; set; } = true;

    /// <summary>
    /// The heartbeat interval assumed for an agent whose heartbeats do not say theirs: the original OpenHVX agent's default (its
    /// <c>config.json</c> may set another, such as the 60 s of its README; set this to the longest in the fleet).
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An agent is offline once this many of its heartbeat intervals pass without one.</summary>
    public int MissedHeartbeats { get; set; } = 2;

    /// <summary>How often the broker is asked whether each agent's task queue has a consumer (RabbitMQ only).</summary>
    public TimeSpan ConsumerCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many agents' task queues are asked about per <see cref="ConsumerCheckInterval"/> at most: the check's cost to the broker
    /// and the orchestrator stays bounded, and a fleet larger than this is gone round in several intervals.
    /// </summary>
    public int ConsumerChecksPerInterval { get; set; } = 200;

    /// <summary>
    /// A dispatched task that its agent has not started within this window goes to another eligible agent; the agent
    /// is told not to start it after the window (the task's not-after time), so it can never run in two places.
    /// </summary>
    public TimeSpan PickupWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long after the not-after time the orchestrator waits before it re-places a task: the agent's "started" message
    /// in transit, and the difference between the agent's clock and this one (keep them in sync with NTP).
    /// </summary>
    public TimeSpan PickupGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an election may reuse the registry it read (<see cref="AgentRegistryCache"/>) while the store says nothing an
    /// election reads has changed since; zero reads the registry at every election.
    /// </summary>
    public TimeSpan RegistrySnapshotMaxAge { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How agents of the original OpenHVX generation are driven (their capacity, their images).</summary>
    public MixedFleet.OriginalAgentOptions Original { get; set; } = new();
}
