using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>Sends a control message to its agent: exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;.control</c>, plain JSON, persistent.</summary>
public sealed class ExchangeAgentControlSender(AgentQueueBinder queues, IServiceProvider services) : IAgentControlSender
{
    // Resolved when first used: the bus is built from the saga, which sends through this.
    private MassTransit.IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<MassTransit.IBus>(services);

    public async Task SendAsync(AgentTaskCancel cancel, CancellationToken cancellationToken)
    {
        // Bound before the send: the message then waits in the agent's queue even when the agent is away.
        await queues.EnsureBoundAsync(cancel.AgentId, cancellationToken);
        await PlainJson.SendAsync(Bus, WireTopology.JobsExchange, "direct", WireTopology.AgentControlRoutingKey(cancel.AgentId), cancel, cancel.TaskId,
            cancellationToken: cancellationToken);
    }
}
