using MassTransit;
using MassTransit.RabbitMqTransport;
using MassTransit.Transports;
using RabbitMQ.Client;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Moves a refused agent message to the endpoint's <c>_error</c> queue like MassTransit's own error transport, except that
/// the copy leaves without the AMQP user_id: RabbitMQ refuses a user_id other than the publishing connection's user, so
/// MassTransit's copy of an agent's message would be refused, the message requeued and refused again without end.
/// The agent's user stays readable on the copy as the header <see cref="OriginalUserIdHeader"/>.
/// </summary>
public sealed class AgentMessageErrorFilter(string queue) : IFilter<ExceptionReceiveContext>
{
    public const string OriginalUserIdHeader = "x-openhvx-user-id";

    private static readonly Dictionary<string, object> NoArguments = [];

    public void Probe(ProbeContext context) => context.CreateFilterScope("agentMessageError");

    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        if (!context.TryGetPayload(out RabbitMqBasicConsumeContext? rabbit) || rabbit.Properties.UserId is not { } userId
            || !context.TryGetPayload(out ChannelContext? channel))
        {
            // Nothing to strip: MassTransit's error transport moves it.
            if (!context.TryGetPayload(out IErrorTransport? transport))
                throw new TransportException(context.InputAddress, "The error transport is not available on the receive context.");
            await transport.Send(context);
            await next.Send(context);
            return;
        }

        var error = queue + "_error";
        // The error topology MassTransit declares (fanout exchange and queue of the same name), in case this is the first error.
        await channel.ExchangeDeclare(error, ExchangeType.Fanout, durable: true, autoDelete: false, NoArguments, context.CancellationToken);
        await channel.QueueDeclare(error, durable: true, exclusive: false, autoDelete: false, NoArguments, context.CancellationToken);
        await channel.QueueBind(error, error, "", NoArguments, context.CancellationToken);

        var properties = new BasicProperties(rabbit.Properties) { UserId = null };
        properties.ClearExpiration();
        SendHeaders headers = new MoveTransportHeaders(properties);
        headers.SetHostHeaders();
        headers.CopyFrom(context.ExceptionHeaders);
        headers.Set(OriginalUserIdHeader, userId);
        await channel.BasicPublishAsync(error, rabbit.RoutingKey, mandatory: true, properties, context.GetBody(), awaitAck: true, context.CancellationToken);
        await next.Send(context);
    }
}
