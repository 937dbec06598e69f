using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.HyperVAgent.Messaging;

/// <summary>How the agent's messages leave it: MassTransit publish (in one process) or plain JSON on the RabbitMQ exchanges.</summary>
public interface IAgentWire
{
    Task StartedAsync(ConsumeContext context, AgentTaskStarted started);
    Task ResultAsync(ConsumeContext context, AgentTaskResult result);
    Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken);
    Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken);
}

/// <summary>In-process bus (DevHost): ordinary MassTransit publishes.</summary>
public sealed class BusAgentWire(IBus bus) : IAgentWire
{
    public Task StartedAsync(ConsumeContext context, AgentTaskStarted started) => context.Publish(started);
    public Task ResultAsync(ConsumeContext context, AgentTaskResult result) => context.Publish(result);
    public Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken) => bus.Publish(heartbeat, cancellationToken);
    public Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken) => bus.Publish(inventory, cancellationToken);
}

/// <summary>
/// RabbitMQ: plain JSON, persistent, to <c>results</c> (<c>task.&lt;taskId&gt;</c>) and <c>agent.telemetry</c>, stamped with the
/// agent's broker user. A result is confirmed by the broker before the task's delivery is acknowledged (the consumer awaits it).
/// </summary>
public sealed class ExchangeAgentWire(AgentWirePublisher publisher) : IAgentWire
{
    public Task StartedAsync(ConsumeContext context, AgentTaskStarted started)
        => publisher.PublishAsync(WireTopology.ResultsExchange, WireTopology.StartedRoutingKey(started.TaskId), started, started.TaskId, context.CancellationToken);

    public Task ResultAsync(ConsumeContext context, AgentTaskResult result)
        => publisher.PublishAsync(WireTopology.ResultsExchange, WireTopology.ResultRoutingKey(result.TaskId), result, result.TaskId, context.CancellationToken);

    public Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken)
        => publisher.PublishAsync(WireTopology.TelemetryExchange, WireTopology.HeartbeatRoutingKey(heartbeat.AgentId), heartbeat, null, cancellationToken);

    public Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken)
        => publisher.PublishAsync(WireTopology.TelemetryExchange, WireTopology.InventoryRoutingKey(inventory.AgentId), inventory, null, cancellationToken);
}
