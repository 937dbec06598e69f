using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Tasks;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>
/// Heartbeat at start-up and then every interval: capabilities, capacity and free capacity of the host, status
/// <c>active</c>. When the host stops, before the bus goes down, one last heartbeat with status <c>stopping</c>.
/// </summary>
public sealed class HeartbeatService(
    IAgentWire wire,
    PowerShellRunner runner,
    ActionScripts scripts,
    SimulatedHost simulatedHost,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<HeartbeatService> logger) : BackgroundService, IHostedLifecycleService
{
    /// <summary>How long the stopping heartbeat may take: shutting down is not held up for it.</summary>
    public static readonly TimeSpan StoppingTimeout = TimeSpan.FromSeconds(3);

    // One heartbeat on the wire at a time, and none 'active' after the 'stopping' one.
    private readonly SemaphoreSlim _sending = new(1, 1);
    private volatile bool _stopping;

    public static readonly string Version = typeof(HeartbeatService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            runner.Warm();
            await simulatedHost.PrepareAsync(stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(ex, "The agent's PowerShell host could not start");
        }

        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, clock);
        do
        {
            try
            {
                var heartbeat = await BuildAsync(stoppingToken);
                await _sending.WaitAsync(stoppingToken);
                try
                {
                    if (_stopping)
                        return;
                    await wire.HeartbeatAsync(heartbeat, stoppingToken);
                }
                finally
                {
                    _sending.Release();
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Heartbeat failed; retrying at the next interval");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task<AgentHeartbeat> BuildAsync(CancellationToken cancellationToken)
    {
        var agent = options.Value;
        // Before measuring: the orchestrator takes a heartbeat as news of everything that finished before its Ts.
        var ts = clock.GetUtcNow();
        var outcome = await runner.RunAsync(runner.ScriptPath("_host.status"),
            [new("BasePath", agent.FullDataPath)], TimeSpan.FromSeconds(60), cancellationToken, RunspaceLane.Heartbeat);
        if (!outcome.Ok || outcome.Output is not { } output)
        {
            logger.LogWarning("Host status failed ({Code}: {Message}); heartbeat carries no capacity", outcome.Error?.Code, outcome.Error?.Message);
            return new AgentHeartbeat(Version, agent.AgentId, ts, Environment.MachineName, scripts.Capabilities(), null, null, 0,
                Status: AgentStatuses.Active, IntervalSeconds: agent.HeartbeatInterval.TotalSeconds);
        }
        var status = HostStatus.Parse(output);
        var (capacity, free) = status.Offer(agent);
        return new AgentHeartbeat(Version, agent.AgentId, ts, status.HostName, scripts.Capabilities(), capacity, free, status.VmCount,
            status.LogicalProcessors, [new DatastoreCapacity("default", status.StorageCapacityMB, status.StorageFreeMB)],
            AgentStatuses.Active, agent.HeartbeatInterval.TotalSeconds);
    }

    /// <summary>The last heartbeat: the agent is going away, so it offers no capacity.</summary>
    public AgentHeartbeat BuildStopping()
    {
        var agent = options.Value;
        return new AgentHeartbeat(Version, agent.AgentId, clock.GetUtcNow(), Environment.MachineName, scripts.Capabilities(), null, null, 0,
            Status: AgentStatuses.Stopping, IntervalSeconds: agent.HeartbeatInterval.TotalSeconds);
    }

    // Stopping runs on every hosted service before any of them stops: the bus and the wire are still up.
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StoppingTimeout);
        try
        {
            // A heartbeat being published now goes first.
            await _sending.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("The stopping heartbeat was not sent: the heartbeat before it is still being published");
            return;
        }
        try
        {
            await wire.HeartbeatAsync(BuildStopping(), timeout.Token).WaitAsync(timeout.Token);
            logger.LogInformation("Sent the stopping heartbeat");
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "The stopping heartbeat could not be sent");
        }
        finally
        {
            _sending.Release();
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Dispose()
    {
        base.Dispose();
        _sending.Dispose();
    }
}
