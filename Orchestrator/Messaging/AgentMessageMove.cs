using OpenHvx.Contracts;
using MassTransit;
using MassTransit.RabbitMqTransport;
using MassTransit.Transports;
using RabbitMQ.Client;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Moves an agent message that the orchestrator refused (<c>_error</c>) or that nothing consumes (<c>_skipped</c>) like
/// MassTransit's own transports, except that the copy leaves without the AMQP user_id: RabbitMQ refuses a user_id other
/// than the publishing connection's user, so MassTransit's copy of an agent's message would be refused, the message
/// requeued and refused again without end. The agent's user stays readable on the copy as <see cref="OriginalUserIdHeader"/>.
/// </summary>
public static class AgentMessageMove
{
    public const string OriginalUserIdHeader = "x-openhvx-user-id";

    private static readonly Dictionary<string, object> NoArguments = [];

    /// <summary>The agent's user_id, when the message has one and arrived on a RabbitMQ channel this can publish on.</summary>
    public static bool TryGetAgentMessage(ReceiveContext context, out RabbitMqBasicConsumeContext rabbit, out string userId, out ChannelContext channel)
    {
        userId = null!;
        channel = null!;
        return context.TryGetPayload(out rabbit!) && rabbit.Properties.UserId is { } user && (userId = user) is not null
            && context.TryGetPayload(out channel!);
    }

    public static async Task MoveAsync(ReceiveContext context, RabbitMqBasicConsumeContext rabbit, string userId, ChannelContext channel, string destination,
        SharedQueues shared, Action<SendHeaders>? headers = null)
    {
        // The topology MassTransit declares for these queues (fanout exchange and queue of the same name), in case this is the first.
        await channel.ExchangeDeclare(destination, ExchangeType.Fanout, durable: true, autoDelete: false, NoArguments, context.CancellationToken);
        await shared.DeclareAsync(channel, destination, context.CancellationToken);
        await channel.QueueBind(destination, destination, "", NoArguments, context.CancellationToken);

        var properties = new BasicProperties(rabbit.Properties) { UserId = null };
        properties.ClearExpiration();
        SendHeaders sendHeaders = new MoveTransportHeaders(properties);
        sendHeaders.SetHostHeaders();
        headers?.Invoke(sendHeaders);
        sendHeaders.Set(OriginalUserIdHeader, userId);
        await channel.BasicPublishAsync(destination, rabbit.RoutingKey, mandatory: true, properties, context.GetBody(), awaitAck: true, context.CancellationToken);
    }
}

/// <summary>A refused agent message goes to <c>&lt;queue&gt;_error</c> (<see cref="AgentMessageMove"/>).</summary>
public sealed class AgentMessageErrorFilter(string queue, SharedQueues shared) : IFilter<ExceptionReceiveContext>
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("agentMessageError");

    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        if (AgentMessageMove.TryGetAgentMessage(context, out var rabbit, out var userId, out var channel))
            await AgentMessageMove.MoveAsync(context, rabbit, userId, channel, WireTopology.ErrorQueue(queue), shared, headers => headers.CopyFrom(context.ExceptionHeaders));
        else if (context.TryGetPayload(out IErrorTransport? transport))
            await transport.Send(context);
        else
            throw new TransportException(context.InputAddress, "The error transport is not available on the receive context.");
        await next.Send(context);
    }
}

/// <summary>An agent message nothing consumes goes to <c>&lt;queue&gt;_skipped</c> (<see cref="AgentMessageMove"/>).</summary>
public sealed class AgentMessageDeadLetterFilter(string queue, SharedQueues shared) : IFilter<ReceiveContext>
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("agentMessageDeadLetter");

    public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
    {
        if (AgentMessageMove.TryGetAgentMessage(context, out var rabbit, out var userId, out var channel))
            await AgentMessageMove.MoveAsync(context, rabbit, userId, channel, SharedQueues.SkippedQueue(queue), shared);
        else if (context.TryGetPayload(out IDeadLetterTransport? transport))
            await transport.Send(context, "skipped");
        else
            throw new TransportException(context.InputAddress, "The dead-letter transport is not available on the receive context.");
        await next.Send(context);
    }
}
