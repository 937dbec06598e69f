using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;
using Polly;
using Polly.Retry;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Orchestrator.DeadLetters;

/// <summary>
/// Moves what lands in <c>orchestrator.results_error</c> and <c>orchestrator.tasks_error</c> into the dead-letter store, where
/// admins list and replay it (RabbitMQ only: the in-memory bus has no error queues). A message is acknowledged once stored;
/// a store that refuses writes is retried with backoff, the message staying in its queue meanwhile.
/// </summary>
public sealed class DeadLetterCollector(Uri broker, IDeadLetterStore store, SharedQueues shared, TimeProvider clock, ILogger<DeadLetterCollector> logger)
    : BackgroundService
{
    public static readonly string[] Queues = [WireTopology.ErrorQueue(WireTopology.ResultsQueue), WireTopology.ErrorQueue(WireTopology.TaskSagaQueue)];

    private static readonly Dictionary<string, object?> NoArguments = [];

    private ResiliencePipeline Retry(string what, Func<Exception, bool>? retried = null) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(10),
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && (retried?.Invoke(ex) ?? true)),
            OnRetry = args =>
            {
                if (args.AttemptNumber % 10 == 0)
                    logger.LogWarning("{What} failed ({Message}); retry {Attempt}", what, args.Outcome.Exception?.Message, args.AttemptNumber + 1);
                return default;
            },
        })
        .Build();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-orchestrator-dead-letters", AutomaticRecoveryEnabled = true };
        await using var connection = await Retry("Connecting to the error queues").ExecuteAsync(async token => await factory.CreateConnectionAsync(token), stoppingToken);
        // Only a storage fault that passes is waited out; a letter that can never be stored stays unacknowledged in its queue.
        var storing = Retry("Storing a dead letter", Persistence.StorageFaults.IsTransient);
        // A refused declaration (an error queue made elsewhere with other arguments) is logged and tried again, never the end of the process.
        var channel = await Retry("Setting up the error queues").ExecuteAsync(async token => await ConsumeAsync(connection, storing, token), stoppingToken);
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        await channel.DisposeAsync();
    }

    private async Task<IChannel> ConsumeAsync(IConnection connection, ResiliencePipeline storing, CancellationToken stoppingToken)
    {
        var channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
        await channel.BasicQosAsync(0, 16, false, stoppingToken);
        foreach (var queue in Queues)
        {
            // The topology MassTransit gives error queues (a fanout exchange and a queue of the same name), whichever comes first.
            await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: stoppingToken);
            await shared.DeclareAsync(channel, queue, stoppingToken);
            await channel.QueueBindAsync(queue, queue, "", NoArguments, cancellationToken: stoppingToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                var letter = Read(queue, delivery, clock.GetUtcNow());
                try
                {
                    await storing.ExecuteAsync(async token => await store.TryAddAsync(letter, token), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return; // Not acknowledged: the broker gives it back when the channel closes.
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Dead letter {Id} from {Queue} (task {TaskId}) cannot be stored; it stays unacknowledged in the queue",
                        letter.Id, queue, letter.TaskId?.ToString() ?? "unknown");
                    return;
                }
                logger.LogWarning("Dead letter {Id} from {Queue} (task {TaskId}, sender {Sender}): {Reason}", letter.Id, queue,
                    letter.TaskId?.ToString() ?? "unknown", letter.SenderUser ?? "unknown", letter.Reason ?? "no reason given");
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None);
            };
            await channel.BasicConsumeAsync(queue, autoAck: false, consumer, stoppingToken);
        }
        return channel;
    }

    /// <summary>The stored form of a delivery from <paramref name="queue"/>; its id is derived from the message and its failure.</summary>
    public static DeadLetter Read(string queue, BasicDeliverEventArgs delivery, DateTimeOffset now)
    {
        var properties = delivery.BasicProperties;
        var body = delivery.Body.ToArray();
        var faultedAt = Header(properties, MessageHeaders.FaultTimestamp);
        var receivedAt = DateTimeOffset.TryParse(faultedAt, out var at) ? at : now;
        return new DeadLetter(
            IdOf(queue, delivery.RoutingKey, properties.MessageId, faultedAt, body),
            queue,
            AgentMessageCheck.TaskIdOf(delivery.RoutingKey) ?? (Guid.TryParse(properties.CorrelationId, out var correlation) ? correlation : TaskIdInBody(body)),
            delivery.RoutingKey is { Length: > 0 } key ? key : null,
            properties.ContentType,
            body,
            Header(properties, AgentMessageMove.OriginalUserIdHeader) ?? properties.UserId,
            Header(properties, MessageHeaders.FaultMessage),
            Header(properties, MessageHeaders.FaultExceptionType),
            receivedAt);
    }

    private static Guid IdOf(string queue, string? routingKey, string? messageId, string? faultedAt, byte[] body)
    {
        var head = Encoding.UTF8.GetBytes(string.Join('\n', queue, routingKey, messageId, faultedAt, ""));
        return new Guid(SHA256.HashData([.. head, .. body]).AsSpan(0, 16));
    }

    private static string? Header(IReadOnlyBasicProperties properties, string name)
        => properties.Headers?.TryGetValue(name, out var value) == true
            ? value switch
            {
                null => null,
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                _ => value.ToString(),
            }
            : null;

    /// <summary>The task a body names: an agent's plain JSON (<c>taskId</c>) or a MassTransit envelope (<c>correlationId</c>, <c>message.taskId</c>).</summary>
    private static Guid? TaskIdInBody(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return null;
            foreach (var candidate in new[] { Property(root, "taskId"), Property(root, "correlationId"), Property(root, "message") is { } m ? Property(m, "taskId") : null })
            {
                if (candidate is { ValueKind: JsonValueKind.String } value && Guid.TryParse(value.GetString(), out var id))
                    return id;
            }
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement? Property(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;
}
