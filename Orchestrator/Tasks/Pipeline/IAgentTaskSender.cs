using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>Delivers a task to its agent (RabbitMQ: exchange <c>jobs</c>; in memory: queue <c>agent.&lt;agentId&gt;.tasks</c>).</summary>
public interface IAgentTaskSender
{
    Task SendAsync(AgentTask task, CancellationToken cancellationToken);
}

/// <summary>The in-memory bus's way: the agent's own queue.</summary>
public sealed class QueueAgentTaskSender(IServiceProvider services) : IAgentTaskSender
{
    // Resolved when first used: the bus is built from the saga, whose steps send through this.
    private IBus Bus => field ??= services.GetRequiredService<IBus>();

    public static Uri QueueFor(string agentId) => new("queue:" + WireTopology.AgentQueue(agentId));

    public async Task SendAsync(AgentTask task, CancellationToken cancellationToken)
    {
        var endpoint = await Bus.GetSendEndpoint(QueueFor(task.AgentId));
        await endpoint.Send(task, send => send.CorrelationId = task.TaskId, cancellationToken);
    }
}
