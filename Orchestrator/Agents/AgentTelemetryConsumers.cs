using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Agents;

// The in-memory bus's telemetry consumers (on RabbitMQ, the wire consumers in Messaging take these messages as plain JSON).

public sealed class AgentHeartbeatConsumer(IAgentStore agents, TimeProvider clock) : IConsumer<AgentHeartbeat>
{
    public Task Consume(ConsumeContext<AgentHeartbeat> context)
        => agents.RecordHeartbeatAsync(context.Message with { Generation = MixedFleet.AgentGenerations.Current }, clock.GetUtcNow(), context.CancellationToken);
}

/// <summary>Records an agent's inventory and reconciles its VMs with the resources linked on it.</summary>
public sealed class AgentInventoryConsumer(Resources.InventoryReconciler reconciler) : IConsumer<AgentInventory>
{
    public Task Consume(ConsumeContext<AgentInventory> context)
        => reconciler.RecordAsync(context.Message.AgentId, context.Message.Inventory, context.Message.Ts, context.CancellationToken);
}
