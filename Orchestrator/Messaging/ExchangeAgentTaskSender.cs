using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>Sends a task to its agent: exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;</c>, plain JSON, persistent.</summary>
public sealed class ExchangeAgentTaskSender(AgentQueueBinder queues, IServiceProvider services) : Tasks.Pipeline.IAgentTaskSender
{
    // Resolved when first used: the bus is built from the saga, whose steps send through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);

    public async Task SendAsync(AgentTask task, CancellationToken cancellationToken)
    {
        await queues.EnsureBoundAsync(task.AgentId, cancellationToken);
        await PlainJson.SendAsync(Bus, WireTopology.JobsExchange, "direct", WireTopology.AgentRoutingKey(task.AgentId), task, task.TaskId, cancellationToken: cancellationToken);
    }
}
