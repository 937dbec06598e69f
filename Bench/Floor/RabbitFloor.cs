using System.Collections.Concurrent;
using System.Diagnostics;
using OpenHvx.Bench.Load;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Bench.Floor;

public sealed record RoundTrips(int Window, int Count, double Seconds, double PerSecond, Latency Latency);

/// <summary>
/// The broker's own limit on this machine: a persistent request published with confirms to a durable queue,
/// consumed and acked by a responder that publishes a persistent reply (with confirms) to a durable queue,
/// consumed and acked by the requester. Round trips per second with <c>window</c> requests outstanding.
/// </summary>
public static class RabbitFloor
{
    public static async Task<RoundTrips> MeasureAsync(string url, int window, int count)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var requests = "bench.requests." + suffix;
        var replies = "bench.replies." + suffix;
        var confirms = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);
        var factory = new ConnectionFactory { Uri = new Uri(url), ConsumerDispatchConcurrency = (ushort)Math.Max(1, window) };
        await using var responderConnection = await factory.CreateConnectionAsync("bench-responder");
        await using var requesterConnection = await factory.CreateConnectionAsync("bench-requester");

        // A channel waits for one confirm at a time: each message in flight gets its own publishing channel,
        // so the broker can confirm many at once (as it would for many clients).
        var responders = new List<IChannel>();
        var publishers = new List<IChannel>();
        try
        {
            await using var setup = await requesterConnection.CreateChannelAsync();
            await setup.QueueDeclareAsync(requests, durable: true, exclusive: false, autoDelete: false);
            await setup.QueueDeclareAsync(replies, durable: true, exclusive: false, autoDelete: false);
            for (var i = 0; i < window; i++)
            {
                var responder = await responderConnection.CreateChannelAsync(confirms);
                responders.Add(responder);
                await responder.BasicQosAsync(0, 1, false);
                var serve = new AsyncEventingBasicConsumer(responder);
                serve.ReceivedAsync += async (_, delivery) =>
                {
                    var properties = new BasicProperties { Persistent = true, CorrelationId = delivery.BasicProperties.CorrelationId };
                    await responder.BasicPublishAsync("", replies, false, properties, delivery.Body);
                    await responder.BasicAckAsync(delivery.DeliveryTag, false);
                };
                await responder.BasicConsumeAsync(requests, autoAck: false, serve);
                publishers.Add(await requesterConnection.CreateChannelAsync(confirms));
            }

            var waiting = new ConcurrentDictionary<string, TaskCompletionSource>();
            await using var receiver = await requesterConnection.CreateChannelAsync();
            await receiver.BasicQosAsync(0, (ushort)Math.Max(2, window * 2), false);
            var receive = new AsyncEventingBasicConsumer(receiver);
            receive.ReceivedAsync += async (_, delivery) =>
            {
                if (delivery.BasicProperties.CorrelationId is { } id && waiting.TryRemove(id, out var done))
                    done.TrySetResult();
                await receiver.BasicAckAsync(delivery.DeliveryTag, false);
            };
            await receiver.BasicConsumeAsync(replies, autoAck: false, receive);

            var body = new byte[256];
            var latencies = new double[count];
            var next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(publishers.Select(async publisher =>
            {
                while (true)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i >= count)
                        return;
                    var id = i.ToString();
                    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    waiting[id] = done;
                    var started = Stopwatch.GetTimestamp();
                    await publisher.BasicPublishAsync("", requests, false, new BasicProperties { Persistent = true, CorrelationId = id }, body);
                    await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
                    latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }));
            var seconds = clock.Elapsed.TotalSeconds;
            await setup.QueueDeleteAsync(requests);
            await setup.QueueDeleteAsync(replies);
            return new RoundTrips(window, count, Latency.Round(seconds), Latency.Round(count / seconds), Latency.Of(latencies));
        }
        finally
        {
            foreach (var channel in responders.Concat(publishers))
                await channel.DisposeAsync();
        }
    }
}
