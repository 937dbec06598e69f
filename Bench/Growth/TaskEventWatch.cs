using System.Collections.Concurrent;
using System.Text.Json;
using OpenHvx.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Bench.Growth;

/// <summary>
/// The tenant's finished tasks as the orchestrator announces them on <c>task.events</c> (<c>&lt;tenant&gt;.vm.create.SUCCESS</c> and
/// <c>.FAILED</c>), on a queue of the bench's own: knowing when a run is over costs the orchestrator nothing, where
/// asking its API would cost it reads that grow with the tenant's history.
/// </summary>
public sealed class TaskEventWatch : IAsyncDisposable
{
    public sealed record Final(string Status, string? ErrorCode);

    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly ConcurrentDictionary<Guid, Final> _finals = new();

    private TaskEventWatch(IConnection connection, IChannel channel)
    {
        _connection = connection;
        _channel = channel;
    }

    public static async Task<TaskEventWatch> StartAsync(string brokerUrl, string tenantId, string action = "vm.create")
    {
        var factory = new ConnectionFactory { Uri = new Uri(brokerUrl), ClientProvidedName = "bench-task-events" };
        var connection = await factory.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        foreach (var status in new[] { TaskStatuses.Succeeded, TaskStatuses.Failed })
            await channel.QueueBindAsync(queue, WireTopology.TaskEventsExchange, WireTopology.TaskEventRoutingKey(tenantId, action, status));
        var watch = new TaskEventWatch(connection, channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            try
            {
                var body = JsonDocument.Parse(delivery.Body).RootElement;
                string? Text(string name) => body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                if (Guid.TryParse(Text("taskId"), out var id) && Text("status") is { } status)
                    watch._finals[id] = new Final(status, Text("errorCode"));
            }
            catch (JsonException)
            {
            }
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return watch;
    }

    /// <summary>
    /// Until every one of <paramref name="taskIds"/> has finished or <paramref name="timeout"/> passed. When none of them has been
    /// announced <paramref name="silence"/> after the call (the events may not be published), asks <paramref name="fallback"/> (one task's
    /// final status or null) task by task instead; <c>ByEvents</c> then says false.
    /// </summary>
    public async Task<(IReadOnlyDictionary<Guid, Final> Finals, bool ByEvents)> WaitAsync(
        IReadOnlyList<Guid> taskIds, TimeSpan timeout, TimeSpan silence, Func<Guid, Task<Final?>> fallback)
    {
        var started = DateTime.UtcNow;
        var result = new Dictionary<Guid, Final>();
        var byEvents = true;
        while (DateTime.UtcNow - started < timeout)
        {
            foreach (var id in taskIds)
            {
                if (!result.ContainsKey(id) && _finals.TryGetValue(id, out var final))
                    result[id] = final;
            }
            if (result.Count == taskIds.Count)
                break;
            if (byEvents && result.Count == 0 && DateTime.UtcNow - started > silence)
                byEvents = false;
            if (!byEvents)
            {
                // In submission order, up to the first that is still running.
                foreach (var id in taskIds.Where(id => !result.ContainsKey(id)))
                {
                    if (await fallback(id) is not { } final)
                        break;
                    result[id] = final;
                }
                if (result.Count == taskIds.Count)
                    break;
                await Task.Delay(500);
            }
            else
            {
                await Task.Delay(50);
            }
        }
        return (result, byEvents);
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
