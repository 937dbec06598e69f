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
/// process (at most 100 wait on the broker; only the newest count), and this process's own transitions, which it has signalled
/// already, are skipped. A lost connection, channel or consumer is listened again on a new queue, and the readers are woken then,
/// since transitions committed meanwhile had no queue to reach.
/// </summary>
public sealed class TaskEventWakeUp(Uri broker, TaskEventSignal signal, OrchestratorInstance instance, ILogger<TaskEventWakeUp> logger) : BackgroundService
{
    /// <summary>The header naming the orchestrator that published a transition on <c>task.events</c>.</summary>
    public const string PublisherHeader = "openhvx-orchestrator";

    public const string ClientName = "openhvx-orchestrator-event-wakeup";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly byte[] _ownId = Encoding.UTF8.GetBytes(instance.Id);
    private long _wakes;
    private long _deliveries;
    private int _listens;

    /// <summary>How many transitions of other orchestrators woke the readers.</summary>
    public long Wakes => Interlocked.Read(ref _wakes);

    /// <summary>How many transitions arrived, this orchestrator's own included.</summary>
    public long Deliveries => Interlocked.Read(ref _deliveries);

    /// <summary>How many times it has begun listening (the first time, then after each loss), counted after it woke the readers.</summary>
    public int Listens => Volatile.Read(ref _listens);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(() =>
                {
                    if (failures > 0)
                        logger.LogInformation("Listening again for other orchestrators' task events");
                    failures = 0;
                }, stoppingToken);
            }
            catch (Exception ex)
            {
                if (stoppingToken.IsCancellationRequested)
                    return;
                if (++failures == 1)
                    logger.LogWarning("Not listening for other orchestrators' task events ({Message}); event readers poll the log meanwhile", ex.Message);
                await Task.Delay(RetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Listens until the connection, the channel or the consumer is lost (an exception) or the process stops (returns).</summary>
    private async Task ListenAsync(Action listening, CancellationToken stoppingToken)
    {
        // No automatic recovery: it restores neither a channel closed on its own nor a cancelled consumer, and a new server-named queue
        // is all it would give back. Any loss is noticed here and listened again from the start.
        await using var connection = await new ConnectionFactory { Uri = broker, ClientProvidedName = ClientName, AutomaticRecoveryEnabled = false }
            .CreateConnectionAsync(stoppingToken);
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionShutdownAsync += (_, reason) => Lose(lost, "the connection closed: " + reason.ReplyText);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        channel.ChannelShutdownAsync += (_, reason) => Lose(lost, "the channel closed: " + reason.ReplyText);
        await channel.ExchangeDeclareAsync(WireTopology.TaskEventsExchange, "topic", durable: true, autoDelete: false, cancellationToken: stoppingToken);
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true,
            arguments: new Dictionary<string, object?> { ["x-max-length"] = 100, ["x-overflow"] = "drop-head" }, cancellationToken: stoppingToken);
        await channel.QueueBindAsync(queue.QueueName, WireTopology.TaskEventsExchange, "#", cancellationToken: stoppingToken);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            Interlocked.Increment(ref _deliveries);
            if (!IsOwn(delivery))
            {
                Interlocked.Increment(ref _wakes);
                signal.Pulse();
            }
            return Task.CompletedTask;
        };
        consumer.UnregisteredAsync += (_, _) => Lose(lost, "the broker cancelled the consumer");
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, stoppingToken);
        // Transitions committed before this queue existed reached no queue of this process.
        signal.Pulse();
        Interlocked.Increment(ref _listens);
        listening();
        logger.LogInformation("Listening for other orchestrators' task events on {Queue}", queue.QueueName);

        var stopped = Task.Delay(Timeout.Infinite, stoppingToken);
        if (await Task.WhenAny(lost.Task, stopped) == stopped)
            return;
        throw new InvalidOperationException(await lost.Task);
    }

    private static Task Lose(TaskCompletionSource<string> lost, string why)
    {
        lost.TrySetResult(why);
        return Task.CompletedTask;
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
