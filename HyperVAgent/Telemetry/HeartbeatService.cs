using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Tasks;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>Heartbeat at start-up and then every interval: capabilities, capacity and free capacity of the host.</summary>
public sealed class HeartbeatService(
    IAgentWire wire,
    PowerShellRunner runner,
    ActionScripts scripts,
    SimulatedHost simulatedHost,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<HeartbeatService> logger) : BackgroundService
{
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
                await wire.HeartbeatAsync(await BuildAsync(stoppingToken), stoppingToken);
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
        var outcome = await runner.RunAsync(runner.ScriptPath("_host.status"),
            [new("BasePath", agent.FullDataPath)], TimeSpan.FromSeconds(60), cancellationToken);
        if (!outcome.Ok || outcome.Output is not { } output)
        {
            logger.LogWarning("Host status failed ({Code}: {Message}); heartbeat carries no capacity", outcome.Error?.Code, outcome.Error?.Message);
            return new AgentHeartbeat(Version, agent.AgentId, clock.GetUtcNow(), Environment.MachineName, scripts.Capabilities(), null, null, 0);
        }
        var status = HostStatus.Parse(output);
        var (capacity, free) = status.Offer(agent);
        return new AgentHeartbeat(Version, agent.AgentId, clock.GetUtcNow(), status.HostName, scripts.Capabilities(), capacity, free, status.VmCount,
            status.LogicalProcessors, [new DatastoreCapacity("default", status.StorageCapacityMB, status.StorageFreeMB)]);
    }
}
