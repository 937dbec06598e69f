using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>Where reconciliation's changes go: <c>resource.events</c> as plain JSON on RabbitMQ, the bus's own ResourceChanged in memory.</summary>
public interface IResourceEventPublisher
{
    Task PublishAsync(ResourceChanged change);
}

/// <summary>The in-memory bus's way (DevHost, tests): ResourceChanged published on the bus.</summary>
public sealed class BusResourceEventPublisher(IServiceProvider services) : IResourceEventPublisher
{
    // Resolved when first used: the bus is built from the saga, whose inventory.refresh success reconciles through this.
    private IBus Bus => field ??= services.GetRequiredService<IBus>();

    public Task PublishAsync(ResourceChanged change) => Bus.Publish(change);
}
