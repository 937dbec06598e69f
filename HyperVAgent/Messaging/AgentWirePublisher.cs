using System.Text.Json;
using MassTransit.Serialization;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using RabbitMQ.Client;

namespace OpenHvx.HyperVAgent.Messaging;

/// <summary>
/// Publishes the agent's plain-JSON messages to <c>results</c> and <c>agent.telemetry</c> on a connection of its own,
/// with publisher confirms, each stamped with the AMQP <c>user_id</c> of the connection's user (RabbitMQ refuses a
/// user_id other than the connection's, so the orchestrator can trust it).
/// </summary>
/// <remarks>
/// Not through MassTransit: a MassTransit send endpoint declares its exchange before the first send, and declaring an
/// exchange, even one that exists, needs the configure permission, which also lets its holder delete the exchange. With
/// a plain basic.publish the agent's user needs only write on the two exchanges (the orchestrator declares them at
/// start, WireTopologyDeclarer), and topic permissions then limit the routing keys it may use.
/// </remarks>
public sealed class AgentWirePublisher : IAsyncDisposable
{
    private readonly ConnectionFactory _factory;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    public AgentWirePublisher(Uri broker, string agentId, ILogger<AgentWirePublisher> logger)
    {
        _factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-agent-wire", AutomaticRecoveryEnabled = true };
        if (BrokerUser != WireTopology.AgentBrokerUser(agentId))
            logger.LogWarning("The broker user is {User}, not {Expected}: an orchestrator that requires broker identity refuses this agent's messages "
                + "(create the agent's user with tools/agent-broker-user.sh {AgentId})", BrokerUser, WireTopology.AgentBrokerUser(agentId), agentId);
    }

    /// <summary>The broker user of the connection, which every message carries as its user_id.</summary>
    public string BrokerUser => _factory.UserName;

    public async Task PublishAsync<T>(string exchange, string routingKey, T message, Guid? correlationId, CancellationToken cancellationToken)
        where T : class
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, SystemTextJsonMessageSerializer.Options);
        var properties = new BasicProperties
        {
            ContentType = PlainJson.ContentType.MediaType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = Guid.NewGuid().ToString(),
            CorrelationId = correlationId?.ToString(),
            UserId = BrokerUser,
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        };
        TaskTrace.Inject(System.Diagnostics.Activity.Current, (name, value) => (properties.Headers ??= new Dictionary<string, object?>())[name] = value);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var channel = await ChannelAsync(cancellationToken);
            // Returns once the broker confirmed the message (or throws): a result is safe before its task is acknowledged.
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, body, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
            return _channel;
        // A channel error (an exchange missing, a refused routing key) closes only the channel; a lost connection recovers by itself.
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
            _channel = null;
        }
        _connection ??= await _factory.CreateConnectionAsync(cancellationToken);
        _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
            cancellationToken);
        return _channel;
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
            await _channel.DisposeAsync();
        if (_connection is not null)
            await _connection.DisposeAsync();
        _gate.Dispose();
    }
}
