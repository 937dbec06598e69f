using System.Text.Json;
using OpenHvx.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Bench.Growth;

/// <summary>
/// Agents that exist only as heartbeats: plain JSON on <c>agent.telemetry</c> (<c>heartbeat.&lt;agentId&gt;</c>), persistent and
/// confirmed, as a real agent publishes them, every <see cref="Interval"/> (the agent's default), spread evenly over the
/// interval. Each reports the capabilities and capacity of a real agent and nothing free, so every election looks at
/// it (fresh and capable) and passes it over for lack of CPU. Each also consumes its task queue, as a running agent does: the
/// orchestrator takes an agent whose queue nobody consumes for offline.
/// </summary>
public sealed class IdleAgents : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private IChannel? _consuming;
    private readonly string[] _ids;
    private readonly Func<string, byte[]> _body;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private long _sent;
    private long _failed;

    private IdleAgents(IConnection connection, IChannel channel, string[] ids, Func<string, byte[]> body)
    {
        _connection = connection;
        _channel = channel;
        _ids = ids;
        _body = body;
    }

    public IReadOnlyList<string> Ids => _ids;
    public long Sent => Interlocked.Read(ref _sent);
    public long Failed => Interlocked.Read(ref _failed);

    /// <param name="like">a real agent's view (GET /api/v1/admin/agents/{id}): version, capabilities and capacity to copy</param>
    public static async Task<IdleAgents> StartAsync(string brokerUrl, int count, JsonElement like)
    {
        var factory = new ConnectionFactory { Uri = new Uri(brokerUrl), ClientProvidedName = "bench-idle-agents" };
        var connection = await factory.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var ids = Enumerable.Range(1, count).Select(i => $"bench-idle-{i:D4}").ToArray();
        var version = like.GetProperty("version").GetString() ?? "0.0.0";
        var capabilities = like.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToArray();
        var capacity = like.GetProperty("capacity");
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        byte[] Body(string id) => JsonSerializer.SerializeToUtf8Bytes(new
        {
            version,
            agentId = id,
            ts = DateTimeOffset.UtcNow,
            host = "idle-" + id,
            capabilities,
            capacity = new { cpu = capacity.GetProperty("cpu").GetInt64(), memoryMB = capacity.GetProperty("memoryMB").GetInt64(), storageMB = capacity.GetProperty("storageMB").GetInt64() },
            free = new { cpu = 0, memoryMB = 0, storageMB = 0 },
            vmCount = 0,
        }, json);
        var agents = new IdleAgents(connection, channel, ids, Body);
        // The first round at once (registration), then one heartbeat per agent per interval, spread over it.
        foreach (var id in ids)
            await agents.BeatAsync(id);
        agents._consuming = await connection.CreateChannelAsync();
        var consumer = new AsyncEventingBasicConsumer(agents._consuming);
        foreach (var id in ids)
        {
            // Declared as the orchestrator declares it on the first heartbeat (whichever comes first), then consumed; no task is ever
            // placed here (nothing is free), and one that came would stay unacknowledged.
            await agents._consuming.QueueDeclareAsync(WireTopology.AgentQueue(id), durable: true, exclusive: false, autoDelete: false);
            await agents._consuming.BasicConsumeAsync(WireTopology.AgentQueue(id), autoAck: false, consumer);
        }
        agents._loop = agents.RunAsync();
        return agents;
    }

    private async Task BeatAsync(string id)
    {
        try
        {
            var properties = new BasicProperties { ContentType = "application/json", DeliveryMode = DeliveryModes.Persistent, MessageId = Guid.NewGuid().ToString() };
            await _channel.BasicPublishAsync(WireTopology.TelemetryExchange, WireTopology.HeartbeatRoutingKey(id), false, properties, _body(id), _stop.Token);
            Interlocked.Increment(ref _sent);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Interlocked.Increment(ref _failed);
        }
    }

    private async Task RunAsync()
    {
        var tick = TimeSpan.FromMilliseconds(100);
        var perTick = _ids.Length * tick.TotalMilliseconds / Interval.TotalMilliseconds;
        using var timer = new PeriodicTimer(tick);
        long ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var from = (long)(ticks * perTick);
                var to = (long)(++ticks * perTick);
                for (var i = from; i < to; i++)
                    await BeatAsync(_ids[i % _ids.Length]);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        if (_consuming is not null)
            await _consuming.DisposeAsync();
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
        _stop.Dispose();
    }
}
