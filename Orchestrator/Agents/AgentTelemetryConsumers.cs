using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

// The in-memory bus's telemetry consumers (on RabbitMQ, the wire consumers in Messaging take these messages as plain JSON).

public sealed class AgentHeartbeatConsumer(IAgentStore agents, TimeProvider clock) : IConsumer<AgentHeartbeat>
{
    public Task Consume(ConsumeContext<AgentHeartbeat> context)
        => agents.RecordHeartbeatAsync(context.Message, clock.GetUtcNow(), context.CancellationToken);
}

public sealed class AgentInventoryConsumer(IAgentStore agents, TimeProvider clock) : IConsumer<AgentInventory>
{
    public Task Consume(ConsumeContext<AgentInventory> context)
        => agents.RecordInventoryAsync(context.Message.AgentId, context.Message.Inventory, clock.GetUtcNow(), context.CancellationToken);
}
