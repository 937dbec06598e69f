using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Checks that an agent message was published by the broker user of the agent it names (AMQP user_id, which RabbitMQ
/// verifies against the connection's user). A message without user_id, or with another user's, is refused; except one without
/// user_id naming an agent listed in <c>Orchestrator:Agents:Original:AgentIds</c> (the original Go agent sends none).
/// </summary>
public sealed class AgentBrokerIdentity(IOptions<OrchestratorOptions> options, ILogger<AgentBrokerIdentity> logger)
{
    public void Verify(ConsumeContext context, string claimedAgentId, string what) => Verify(UserOf(context), claimedAgentId, what);

    /// <summary>
    /// A heartbeat or inventory names a valid agent, comes on that agent's own routing key (topic permissions hold each agent's user
    /// to its own keys, so the body may not name another agent), and was published by that agent's broker user.
    /// </summary>
    public void VerifyTelemetry(ConsumeContext context, string? claimedAgentId, Func<string, string> routingKeyOf, string what)
    {
        if (claimedAgentId is null || !Identifiers.IsAgentId(claimedAgentId))
            throw new RejectedWireMessageException($"The {what} needs a valid agentId.");
        if (context.RoutingKey() is { } key && key != routingKeyOf(claimedAgentId))
            throw new RejectedWireMessageException($"The {what} naming agent {claimedAgentId} came on routing key {key}.");
        Verify(context, claimedAgentId, what);
    }

    /// <summary>The AMQP user_id the message was published with (none off RabbitMQ).</summary>
    public static string? UserOf(ConsumeContext context)
        => context.ReceiveContext.TryGetPayload<RabbitMqBasicConsumeContext>(out var rabbit) ? rabbit.Properties.UserId : null;

    public void Verify(string? userId, string claimedAgentId, string what)
    {
        var fleet = options.Value.Agents;
        if (!fleet.RequireBrokerIdentity)
            return;
        var expected = WireTopology.AgentBrokerUser(claimedAgentId);
        if (string.Equals(userId, expected, StringComparison.Ordinal))
            return;
        // The original Go agent sends no user_id: the operator names those agents, and only they are believed without one.
        if (string.IsNullOrEmpty(userId) && fleet.Original.AgentIds.Contains(claimedAgentId, StringComparer.Ordinal))
            return;
        logger.LogWarning("A {What} naming agent {AgentId} came from broker user {UserId}, not {Expected}; refused",
            what, claimedAgentId, userId ?? "(none)", expected);
        throw new RejectedWireMessageException($"A {what} naming agent {claimedAgentId} needs AMQP user_id {expected}, it has {userId ?? "none"}.");
    }
}
