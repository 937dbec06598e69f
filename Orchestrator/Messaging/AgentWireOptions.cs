namespace OpenHvx.Orchestrator.Messaging;

/// <summary>How far the orchestrator trusts agents' messages on RabbitMQ (section <c>Orchestrator:Agents</c>).</summary>
public sealed class AgentWireOptions
{
    /// <summary>
    /// A result, heartbeat or inventory is accepted only when its AMQP user_id is the broker user of the agent it names
    /// (<c>agent.&lt;agentId&gt;</c>); RabbitMQ refuses a user_id other than the publishing connection's, so an agent cannot
    /// speak for another. Off means the agentId in the body is believed: only for agents that send no user_id (the original
    /// Go agent) on a broker where every agent user is trusted.
    /// </summary>
    public bool RequireBrokerIdentity { get; set; } = true;
}
