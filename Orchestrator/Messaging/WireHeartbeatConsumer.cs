using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Heartbeats from <c>agent.telemetry</c> (<c>heartbeat.&lt;agentId&gt;</c>). An agent's first heartbeat also binds its task
/// queue to <c>jobs</c>, so the queue is routed to as soon as the agent is known (dispatch makes sure of it again).
/// </summary>
public sealed class WireHeartbeatConsumer(IAgentStore agents, AgentBrokerIdentity identity, AgentQueueBinder queues, TimeProvider clock,
    IOptions<OrchestratorOptions> options, ILogger<WireHeartbeatConsumer> logger) : IConsumer<AgentHeartbeat>
{
    public async Task Consume(ConsumeContext<AgentHeartbeat> context)
    {
        var heartbeat = context.Message;
        identity.VerifyTelemetry(context, heartbeat.AgentId, WireTopology.HeartbeatRoutingKey, "heartbeat");
        try
        {
            await queues.EnsureBoundAsync(heartbeat.AgentId, context.CancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("The task queue of agent {AgentId} could not be bound yet ({Message}); its first task binds it", heartbeat.AgentId, ex.Message);
        }
        try
        {
            heartbeat = heartbeat with { Capabilities = heartbeat.Capabilities ?? [], Generation = AgentGenerations.Of(heartbeat) };
            if (heartbeat.Generation == AgentGenerations.Original)
                heartbeat = await WithCapacityFromInventoryAsync(heartbeat, context.CancellationToken);
            await agents.RecordHeartbeatAsync(heartbeat, clock.GetUtcNow(), context.CancellationToken);
        }
        catch (Exception ex) when (StorageFaults.IsTransient(ex))
        {
            // Dropped, not retried nor set aside: the next heartbeat carries the same news.
            logger.LogDebug(ex, "The heartbeat of agent {AgentId} could not be stored; dropped", heartbeat.AgentId);
        }
    }

    /// <summary>
    /// The original agent's heartbeat carries no capacity: it is read from the agent's last inventory, and the heartbeat counts as
    /// measured when that inventory was collected (before the first one, at the epoch), so that a finished task's placement keeps
    /// counting until an inventory shows what the task built.
    /// </summary>
    private async Task<AgentHeartbeat> WithCapacityFromInventoryAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken)
    {
        if (await agents.GetInventoryAsync(heartbeat.AgentId, cancellationToken) is not var (inventory, receivedAt)
            || InventoryCapacity.From(inventory, options.Value.Agents.Original) is not { } offer)
            return heartbeat with { Ts = DateTimeOffset.UnixEpoch };
        return heartbeat with { Capacity = offer.Capacity, Free = offer.Free, VmCount = offer.VmCount, Ts = offer.CollectedAt ?? receivedAt };
    }
}
