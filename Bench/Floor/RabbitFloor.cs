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

        var responderFactory = new ConnectionFactory { Uri = new Uri(url), ConsumerDispatchConcurrency = (ushort)Math.Max(1, window) };
        var requesterFactory = new ConnectionFactory { Uri = new Uri(url), ConsumerDispatchConcurrency = (ushort)Math.Max(1, window) };
        await using var responderConnection = await responderFactory.CreateConnectionAsync("bench-responder");
        await using var requesterConnection = await requesterFactory.CreateConnectionAsync("bench-requester");
        await using var responder = await responderConnection.CreateChannelAsync(confirms);
        await using var requester = await requesterConnection.CreateChannelAsync(confirms);
        await responder.QueueDeclareAsync(requests, durable: true, exclusive: false, autoDelete: false);
        await requester.QueueDeclareAsync(replies, durable: true, exclusive: false, autoDelete: false);
        await responder.BasicQosAsync(0, (ushort)Math.Max(1, window * 2), false);
        await requester.BasicQosAsync(0, (ushort)Math.Max(1, window * 2), false);

        var serve = new AsyncEventingBasicConsumer(responder);
        serve.ReceivedAsync += async (_, delivery) =>
        {
            var properties = new BasicProperties { Persistent = true, CorrelationId = delivery.BasicProperties.CorrelationId };
            await responder.BasicPublishAsync("", replies, false, properties, delivery.Body);
            await responder.BasicAckAsync(delivery.DeliveryTag, false);
        };
        await responder.BasicConsumeAsync(requests, autoAck: false, serve);

        var waiting = new ConcurrentDictionary<string, TaskCompletionSource>();
        var receive = new AsyncEventingBasicConsumer(requester);
        receive.ReceivedAsync += async (_, delivery) =>
        {
            if (delivery.BasicProperties.CorrelationId is { } id && waiting.TryRemove(id, out var done))
                done.TrySetResult();
            await requester.BasicAckAsync(delivery.DeliveryTag, false);
        };
        await requester.BasicConsumeAsync(replies, autoAck: false, receive);

        var body = new byte[256];
        var latencies = new double[count];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, window).Select(async _ =>
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
                await requester.BasicPublishAsync("", requests, false, new BasicProperties { Persistent = true, CorrelationId = id }, body);
                await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        await responder.QueueDeleteAsync(requests);
        await requester.QueueDeleteAsync(replies);
        return new RoundTrips(window, count, Latency.Round(seconds), Latency.Round(count / seconds), Latency.Of(latencies));
    }
}
