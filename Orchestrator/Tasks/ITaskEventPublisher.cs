using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>Where a task's transitions go: <c>task.events</c> as plain JSON on RabbitMQ, the bus's own TaskStateChanged in memory.</summary>
public interface ITaskEventPublisher
{
    Task PublishAsync(TaskStateChanged change);
}

/// <summary>The in-memory bus's way (DevHost, tests): TaskStateChanged published on the bus.</summary>
public sealed class BusTaskEventPublisher(IServiceProvider services) : ITaskEventPublisher
{
    // Resolved when first used: the bus is built from the saga, which publishes through this.
    private IBus Bus => field ??= services.GetRequiredService<IBus>();

    public Task PublishAsync(TaskStateChanged change) => Bus.Publish(change);
}
