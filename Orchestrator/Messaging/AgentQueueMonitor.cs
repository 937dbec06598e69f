using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// Asks the broker whether each agent's task queue has a consumer (a passive declare answers the count): a killed agent's
/// connection closes at once, so it stops being elected within seconds instead of two heartbeat intervals. Every
/// <see cref="AgentFleetOptions.ConsumerCheckInterval"/> it asks about at most <see cref="AgentFleetOptions.ConsumerChecksPerInterval"/>
/// agents, going round the registry, so that its cost stays the same whatever the fleet's size (a round of a fleet larger than
/// that takes several intervals). The registry is written only when the answer changes. One orchestrator asks (a job lease).
/// </summary>
public sealed class AgentQueueMonitor(Uri broker, IAgentStore agents, Cluster.JobLeaseKeeper leases, TimeProvider clock, IOptions<OrchestratorOptions> options,
    ILogger<AgentQueueMonitor> logger)
    : Cluster.PeriodicJob("Agent queue check", clock, logger, leases, Cluster.ClusterJobs.AgentQueueMonitor)
{
    // Agents silent for this long are offline by their heartbeats alone; their queues are not asked about.
    private static readonly TimeSpan LongSilent = TimeSpan.FromMinutes(10);

    // The agents this round has still to ask about, as the registry listed them when the round began.
    private readonly Queue<AgentRecord> _round = new();
    private DateTimeOffset _roundBegan;

    private IConnection? _connection;
    private IChannel? _channel;

    protected override TimeSpan Interval => options.Value.Agents.ConsumerCheckInterval;

    protected override async ValueTask OnFailedAsync(Exception exception, int inARow)
    {
        Logger.LogWarning("The agents' task queues could not be checked ({Message}); retrying at the next interval", exception.Message);
        await ResetAsync();
    }

    protected override async Task WorkAsync(CancellationToken cancellationToken)
    {
        var now = Clock.GetUtcNow();
        // A round left unfinished long ago (the lease was elsewhere meanwhile) starts over from the registry as it is now.
        if (_round.Count == 0 || now - _roundBegan > Interval * 10)
        {
            _round.Clear();
            foreach (var agent in await agents.ListAsync(cancellationToken))
                if (now - agent.LastHeartbeatAt <= LongSilent)
                    _round.Enqueue(agent);
            _roundBegan = now;
        }
        for (var asked = 0; asked < Math.Max(1, options.Value.Agents.ConsumerChecksPerInterval) && _round.TryPeek(out var agent); asked++)
        {
            var consumed = await ConsumersAsync(agent.AgentId, cancellationToken) > 0;
            if (consumed && agent.ConsumersLostAt is not null)
            {
                await agents.SetConsumersLostAsync(agent.AgentId, null, cancellationToken);
            }
            else if (!consumed && agent.ConsumersLostAt is null)
            {
                Logger.LogWarning("Nothing consumes the task queue of agent {AgentId}: it is offline until it does", agent.AgentId);
                await agents.SetConsumersLostAsync(agent.AgentId, now, cancellationToken);
            }
            _round.Dequeue();
        }
    }

    private async Task<uint> ConsumersAsync(string agentId, CancellationToken cancellationToken)
    {
        if (_channel is not { IsOpen: true })
        {
            _connection ??= await new ConnectionFactory { Uri = broker, ClientProvidedName = "openhvx-orchestrator-liveness", AutomaticRecoveryEnabled = true }
                .CreateConnectionAsync(cancellationToken);
            if (_channel is not null)
                await _channel.DisposeAsync();
            _channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
        }
        try
        {
            return (await _channel.QueueDeclarePassiveAsync(WireTopology.AgentQueue(agentId), cancellationToken)).ConsumerCount;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            // No queue at all: nobody consumes it (the broker closed the channel; the next call opens another).
            return 0;
        }
    }

    private async Task ResetAsync()
    {
        if (_channel is not null)
            await _channel.DisposeAsync();
        if (_connection is not null)
            await _connection.DisposeAsync();
        _channel = null;
        _connection = null;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await ResetAsync();
    }
}
