using System.Net.Mime;
using MassTransit;

namespace OpenHvx.Contracts;

/// <summary>Sends a message as plain JSON (no MassTransit envelope) to an exchange with a routing key, with the W3C trace headers.</summary>
public static class PlainJson
{
    public static readonly ContentType ContentType = new("application/json");

    public static async Task SendAsync<T>(ISendEndpointProvider provider, string exchange, string exchangeType, string routingKey, T message,
        Guid? correlationId = null, KeyValuePair<string, string>? header = null, CancellationToken cancellationToken = default)
        where T : class
    {
        var endpoint = await provider.GetSendEndpoint(WireTopology.ExchangeAddress(exchange, exchangeType));
        await endpoint.Send(message, context =>
        {
            context.Serializer = context.Serialization.GetMessageSerializer(ContentType);
            context.SetRoutingKey(routingKey);
            context.Durable = true;
            if (correlationId is { } id)
                context.CorrelationId = id;
            if (header is { } extra)
                context.Headers.Set(extra.Key, extra.Value);
            TaskTrace.Inject(System.Diagnostics.Activity.Current, (name, value) => context.Headers.Set(name, value));
        }, cancellationToken);
    }
}
