using System.Collections.Concurrent;
using OpenHvx.Contracts;
using RabbitMQ.Client;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Makes sure an agent's task queue exists and is bound to <c>jobs</c> with <c>agent.&lt;id&gt;</c>, and its control queue with
/// <c>agent.&lt;id&gt;.control</c>, on its first heartbeat and before its first task or control message is sent (once per agent and
/// process; queues and bindings are durable). The orchestrator binds, not the agent: an agent's broker user has no read or configure
/// permission on <c>jobs</c>, so it cannot bind its queues to another agent's keys.
/// </summary>
public sealed class AgentQueueBinder(Uri broker)
{
    private readonly ConcurrentDictionary<string, Lazy<Task>> _bound = new(StringComparer.Ordinal);

    public async Task EnsureBoundAsync(string agentId, CancellationToken cancellationToken)
    {
        var binding = _bound.GetOrAdd(agentId, id => new Lazy<Task>(() => BindAsync(id)));
        try
        {
            await binding.Value.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not cached: the next task for this agent tries again.
            _bound.TryRemove(new KeyValuePair<string, Lazy<Task>>(agentId, binding));
            throw;
        }
    }

    private async Task BindAsync(string agentId)
    {
        var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-orchestrator-agent-queues" };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // The same arguments as the agent's MassTransit endpoint declares (durable, no arguments), so either may come first.
        await channel.QueueDeclareAsync(WireTopology.AgentQueue(agentId), durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(WireTopology.AgentQueue(agentId), WireTopology.JobsExchange, WireTopology.AgentRoutingKey(agentId));
        await channel.QueueDeclareAsync(WireTopology.AgentControlQueue(agentId), durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(WireTopology.AgentControlQueue(agentId), WireTopology.JobsExchange, WireTopology.AgentControlRoutingKey(agentId));
    }
}
