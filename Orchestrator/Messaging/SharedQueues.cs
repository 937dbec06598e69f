using MassTransit;
using OpenHvx.Contracts;
using RabbitMQ.Client;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// The queues the orchestrators consume as competing consumers (the saga's, the results', the heartbeats' and the inventory's,
/// with the <c>_error</c> and <c>_skipped</c> queues made for them) and the one rule for declaring them: durable, not exclusive,
/// not auto-deleted, with <c>x-queue-type: quorum</c> when <see cref="BrokerOptions.QueueType"/> is quorum and no arguments
/// when it is classic. MassTransit gives an endpoint's <c>_error</c> and <c>_skipped</c> queues the endpoint's arguments.
/// The agents' own queues (declared by the agents with no arguments) and temporary queues (the bus endpoint) stay classic.
/// </summary>
public sealed class SharedQueues(SharedQueueType type)
{
    public const string QueueTypeArgument = "x-queue-type";

    /// <summary>The receive endpoints every orchestrator consumes.</summary>
    public static readonly IReadOnlyList<string> Endpoints =
        [WireTopology.TaskSagaQueue, WireTopology.ResultsQueue, WireTopology.HeartbeatQueue, WireTopology.InventoryQueue];

    /// <summary>Every shared queue: the endpoints and their error and skipped queues.</summary>
    public static readonly IReadOnlyList<string> Names =
        [.. Endpoints.SelectMany(queue => new[] { queue, WireTopology.ErrorQueue(queue), SkippedQueue(queue) })];

    /// <summary>Where a message nothing consumes goes (MassTransit's convention).</summary>
    public static string SkippedQueue(string queue) => queue + "_skipped";

    public SharedQueueType Type => type;

    /// <summary>The queue arguments of a shared queue (a new dictionary each time).</summary>
    public Dictionary<string, object> Arguments() => type switch
    {
        SharedQueueType.Quorum => new() { [QueueTypeArgument] = "quorum" },
        _ => [],
    };

    /// <summary>A MassTransit receive endpoint on a shared queue (a named endpoint: durable, not exclusive, not auto-deleted by default).</summary>
    public void ApplyTo(IRabbitMqReceiveEndpointConfigurator endpoint)
    {
        foreach (var (key, value) in Arguments())
            endpoint.SetQueueArgument(key, value);
    }

    /// <summary>Declares a shared queue with RabbitMQ.Client.</summary>
    public async Task DeclareAsync(IChannel channel, string queue, CancellationToken cancellationToken)
        => await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, Arguments()!, cancellationToken: cancellationToken);

    /// <summary>Declares a shared queue on a channel of MassTransit's RabbitMQ transport.</summary>
    public async Task DeclareAsync(MassTransit.RabbitMqTransport.ChannelContext channel, string queue, CancellationToken cancellationToken)
        => await channel.QueueDeclare(queue, durable: true, exclusive: false, autoDelete: false, Arguments(), cancellationToken);
}
