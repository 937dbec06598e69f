using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// Delivers a control message to an agent, apart from its tasks so that it never waits behind them (RabbitMQ: exchange <c>jobs</c>,
/// routing key <c>agent.&lt;agentId&gt;.control</c>; in memory: queue <c>agent.&lt;agentId&gt;.control</c>).
/// </summary>
public interface IAgentControlSender
{
    Task SendAsync(AgentTaskCancel cancel, CancellationToken cancellationToken);
}

/// <summary>The in-memory bus's way: the agent's own control queue.</summary>
public sealed class QueueAgentControlSender(IServiceProvider services) : IAgentControlSender
{
    // Resolved when first used: the bus is built from the saga, which sends through this.
    private IBus Bus => field ??= services.GetRequiredService<IBus>();

    public async Task SendAsync(AgentTaskCancel cancel, CancellationToken cancellationToken)
    {
        var endpoint = await Bus.GetSendEndpoint(new Uri("queue:" + WireTopology.AgentControlQueue(cancel.AgentId)));
        await endpoint.Send(cancel, send => send.CorrelationId = cancel.TaskId, cancellationToken);
    }
}
