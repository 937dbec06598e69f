using MassTransit;
using Microsoft.Extensions.Hosting;
using OpenHvx.Contracts;

namespace OpenHvx.HyperVAgent.Messaging;

/// <summary>How the agent's messages leave it: MassTransit publish (in one process) or plain JSON on the RabbitMQ exchanges.</summary>
public interface IAgentWire
{
    Task StartedAsync(AgentTaskStarted started, CancellationToken cancellationToken);
    /// <summary>
    /// Publishes the result, or throws. True when the transport now holds it for good (on RabbitMQ: the broker confirmed it);
    /// false when it may still be lost (then the journal keeps it unconfirmed and it is published again).
    /// </summary>
    Task<bool> ResultAsync(AgentTaskResult result, CancellationToken cancellationToken);
    Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken);
    Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken);
}

/// <summary>In-process bus (DevHost): ordinary MassTransit publishes.</summary>
public sealed class BusAgentWire(IBus bus, IHostApplicationLifetime lifetime) : IAgentWire
{
    public Task StartedAsync(AgentTaskStarted started, CancellationToken cancellationToken) => bus.Publish(started, cancellationToken);

    public async Task<bool> ResultAsync(AgentTaskResult result, CancellationToken cancellationToken)
    {
        await bus.Publish(result, cancellationToken);
        // The in-memory bus holds messages only while the process lives: one published while the host stops may go
        // with it, unconsumed, so it is published again at the next start (a duplicate changes nothing).
        return !lifetime.ApplicationStopping.IsCancellationRequested;
    }

    public Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken) => bus.Publish(heartbeat, cancellationToken);
    public Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken) => bus.Publish(inventory, cancellationToken);
}

/// <summary>
/// RabbitMQ: plain JSON, persistent, to <c>results</c> (results as <see cref="AgentWireResult"/> on <c>task.&lt;taskId&gt;</c>, started notes
/// on <c>started.&lt;taskId&gt;</c>) and <c>agent.telemetry</c>, stamped with the agent's broker user. A result counts as sent once the broker confirmed it.
/// </summary>
public sealed class ExchangeAgentWire(AgentWirePublisher publisher) : IAgentWire
{
    public Task StartedAsync(AgentTaskStarted started, CancellationToken cancellationToken)
        => publisher.PublishAsync(WireTopology.ResultsExchange, WireTopology.StartedRoutingKey(started.TaskId), started, started.TaskId, cancellationToken);

    public async Task<bool> ResultAsync(AgentTaskResult result, CancellationToken cancellationToken)
    {
        // Error as a string (the original controller stores it as such), the code and details beside it.
        await publisher.PublishAsync(WireTopology.ResultsExchange, WireTopology.ResultRoutingKey(result.TaskId), AgentWireResult.From(result), result.TaskId,
            cancellationToken);
        return true;
    }

    public Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken)
        => publisher.PublishAsync(WireTopology.TelemetryExchange, WireTopology.HeartbeatRoutingKey(heartbeat.AgentId), heartbeat, null, cancellationToken);

    public Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken)
        => publisher.PublishAsync(WireTopology.TelemetryExchange, WireTopology.InventoryRoutingKey(inventory.AgentId), inventory, null, cancellationToken);
}
