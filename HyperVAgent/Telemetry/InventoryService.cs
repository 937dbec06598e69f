using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>The host's canonical inventory (<c>Scripts/_inventory.ps1</c>) at start-up and then every interval.</summary>
public sealed class InventoryService(
    IAgentWire wire,
    PowerShellRunner runner,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<InventoryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(options.Value.InventoryInterval, clock);
        do
        {
            try
            {
                if (await CollectAsync(stoppingToken) is { } inventory)
                    await wire.InventoryAsync(inventory, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Inventory failed; retrying at the next interval");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task<AgentInventory?> CollectAsync(CancellationToken cancellationToken)
    {
        var agent = options.Value;
        var outcome = await runner.RunAsync(runner.ScriptPath("_inventory"), [new("BasePath", agent.FullDataPath)], TimeSpan.FromMinutes(2), cancellationToken);
        if (outcome is { Ok: true, Output: { } inventory })
            return new AgentInventory(agent.AgentId, clock.GetUtcNow(), inventory);
        logger.LogWarning("Inventory script failed ({Code}: {Message})", outcome.Error?.Code, outcome.Error?.Message);
        return null;
    }
}
