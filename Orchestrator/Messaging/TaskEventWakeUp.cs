using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Events;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Wakes this process's event readers (streams, the webhook dispatcher) when another orchestrator on the same store commits an event:
/// every committed transition is published on <c>task.events</c> after its commit, so a copy of it here means the log has news.
/// Without it, readers learn of other orchestrators' commits only at their next poll. The copies arrive on an exclusive queue of this
/// process (bounded; only the newest count), and this process's own transitions, which it has signalled already, are skipped.
/// </summary>
public sealed class TaskEventWakeUp(Uri broker, TaskEventSignal signal, OrchestratorInstance instance, ILogger<TaskEventWakeUp> logger) : BackgroundService
{
    /// <summary>The header naming the orchestrator that published a transition on <c>task.events</c>.</summary>
    public const string PublisherHeader = "openhvx-orchestrator";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly byte[] _ownId = Encoding.UTF8.GetBytes(instance.Id);

    /// <summary>How many transitions of other orchestrators woke the readers (for tests and diagnostics).</summary>
    public long Wakes => Interlocked.Read(ref _wakes);
    private long _wakes;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                if (++failures == 1)
                    logger.LogWarning("Not listening for other orchestrators' task events ({Message}); event readers poll the log meanwhile", ex.Message);
                await Task.Delay(RetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        // Automatic recovery declares the server-named queue, its binding and the consumer again after a lost connection.
        await using var connection = await new ConnectionFactory
        {
            Uri = broker, ClientProvidedName = "openhvx-orchestrator-event-wakeup", AutomaticRecoveryEnabled = true, TopologyRecoveryEnabled = true,
        }.CreateConnectionAsync(stoppingToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        await channel.ExchangeDeclareAsync(WireTopology.TaskEventsExchange, "topic", durable: true, autoDelete: false, cancellationToken: stoppingToken);
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 100, ["x-overflow"] = "drop-head" }, cancellationToken: stoppingToken);
        await channel.QueueBindAsync(queue.QueueName, WireTopology.TaskEventsExchange, "#", cancellationToken: stoppingToken);
        await channel.BasicQosAsync(0, 100, false, stoppingToken);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            if (!IsOwn(delivery))
            {
                Interlocked.Increment(ref _wakes);
                signal.Pulse();
            }
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, stoppingToken);
        logger.LogInformation("Listening for other orchestrators' task events");
        await Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private bool IsOwn(BasicDeliverEventArgs delivery)
        => delivery.BasicProperties.Headers?.TryGetValue(PublisherHeader, out var value) == true
           && value switch
           {
               byte[] bytes => bytes.AsSpan().SequenceEqual(_ownId),
               string text => text == instance.Id,
               _ => false,
           };
}
