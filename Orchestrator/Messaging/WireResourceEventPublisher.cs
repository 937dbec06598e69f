using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>Every change reconciliation makes, as plain JSON on <c>resource.events</c>, routing key <c>&lt;tenantId&gt;.&lt;kind&gt;.&lt;change&gt;</c>.</summary>
public sealed class WireResourceEventPublisher(IServiceProvider services) : IResourceEventPublisher
{
    // Resolved when first used: the bus is built from the saga, whose inventory.refresh success reconciles through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);

    public Task PublishAsync(ResourceChanged change)
        => PlainJson.SendAsync(Bus, WireTopology.ResourceEventsExchange, "topic",
            WireTopology.ResourceEventRoutingKey(change.TenantId, change.Kind, change.Change), change);
}
