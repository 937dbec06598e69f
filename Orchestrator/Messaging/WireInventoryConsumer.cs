using MassTransit;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Inventories from <c>agent.telemetry</c> (<c>inventory.&lt;agentId&gt;</c>): a full one is recorded and reconciled; a light one
/// (the original agent's, after each task) is merged into the one held (<see cref="LightInventory"/>).
/// </summary>
public sealed class WireInventoryConsumer(InventoryReconciler reconciler, IAgentStore agents, IStoreTransactions transactions, AgentBrokerIdentity identity,
    TimeProvider clock, ILogger<WireInventoryConsumer> logger) : IConsumer<AgentInventory>
{
    public async Task Consume(ConsumeContext<AgentInventory> context)
    {
        var inventory = context.Message;
        identity.VerifyTelemetry(context, inventory.AgentId, WireTopology.InventoryRoutingKey, "inventory");
        var light = LightInventory.IsLight(context.Headers.Get<string>(LightInventory.SourceHeader) ?? inventory.Source,
            context.Headers.Get<string>(LightInventory.MergeModeHeader) ?? inventory.MergeMode);
        try
        {
            if (light)
                await MergeAsync(inventory, context.CancellationToken);
            else
                await reconciler.RecordAsync(inventory.AgentId, inventory.Inventory, inventory.Ts, context.CancellationToken);
        }
        catch (Exception ex) when (StorageFaults.IsTransient(ex))
        {
            // Dropped, not retried nor set aside: the next inventory carries the same news.
            logger.LogDebug(ex, "The inventory of agent {AgentId} could not be stored; dropped", inventory.AgentId);
        }
    }

    private Task MergeAsync(AgentInventory light, CancellationToken cancellationToken)
        => transactions.InTransactionAsync(async () =>
        {
            var held = await agents.GetInventoryAsync(light.AgentId, cancellationToken);
            await agents.RecordInventoryAsync(light.AgentId, LightInventory.Merge(held?.Inventory, light.Inventory), clock.GetUtcNow(), cancellationToken);
            return true;
        }, cancellationToken);
}
