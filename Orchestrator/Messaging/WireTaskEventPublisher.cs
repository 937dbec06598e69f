using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Every task transition as plain JSON on <c>task.events</c>, routing key <c>tenant.action.status</c>, with the publishing
/// orchestrator's id in a header (<see cref="TaskEventWakeUp"/> skips its own).
/// </summary>
public sealed class WireTaskEventPublisher(IServiceProvider services, Cluster.OrchestratorInstance instance) : Tasks.ITaskEventPublisher
{
    // Resolved when first used: the bus is built from the saga, which publishes through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);

    public Task PublishAsync(TaskStateChanged change)
        => PlainJson.SendAsync(Bus, WireTopology.TaskEventsExchange, "topic",
            WireTopology.TaskEventRoutingKey(change.TenantId, change.Action, change.Status), change, change.TaskId,
            header: new(TaskEventWakeUp.PublisherHeader, instance.Id));
}
