using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using RabbitMQ.Client;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Declares the agent wire's exchanges at start-up, so that agents and event subscribers can bind
/// before the first task flows (MassTransit would declare a send exchange only on first use).
/// </summary>
public sealed class WireTopologyDeclarer(Uri broker, ILogger<WireTopologyDeclarer> logger) : IHostedService
{
    private static readonly (string Name, string Type)[] Exchanges =
    [
        (WireTopology.JobsExchange, ExchangeType.Direct),
        (WireTopology.ResultsExchange, ExchangeType.Topic),
        (WireTopology.TelemetryExchange, ExchangeType.Topic),
        (WireTopology.TaskEventsExchange, ExchangeType.Topic),
        (WireTopology.ResourceEventsExchange, ExchangeType.Topic),
    ];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var retry = BrokerStartupRetry.For(logger, "Declaring the wire exchanges");

        await retry.ExecuteAsync(async token =>
        {
            var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-orchestrator-topology" };
            await using var connection = await factory.CreateConnectionAsync(token);
            await using var channel = await connection.CreateChannelAsync(cancellationToken: token);
            foreach (var (name, type) in Exchanges)
                await channel.ExchangeDeclareAsync(name, type, durable: true, autoDelete: false, cancellationToken: token);
        }, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
