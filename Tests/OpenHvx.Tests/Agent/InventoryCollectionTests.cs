using System.Globalization;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>When the agent's inventory says it was collected: before its VM list was read, so that a VM a task finished meanwhile is never taken for deleted.</summary>
[TestFixture]
[Category("Integration")]
public sealed class InventoryCollectionTests
{
    [Test]
    public async Task The_inventory_is_stamped_before_the_VM_list_is_read()
    {
        using var folder = new TempFolder("inventory");
        // Listing the VMs takes 1.5 s: a VM created meanwhile, after the list was read, is not in it.
        await using var services = AgentHost.Build(folder.Path, new Dictionary<string, string?> { ["Agent:Simulated:LatencyMs:Get-VM"] = "1500" },
            services =>
            {
                services.AddSingleton<IHostApplicationLifetime, ApplicationLifetime>();
                services.AddMassTransitTestHarness();
            });
        await services.GetRequiredService<SimulatedHost>().PrepareAsync(CancellationToken.None);
        var inventories = ActivatorUtilities.CreateInstance<InventoryService>(services);
        await inventories.CollectAsync(CancellationToken.None); // the first run also loads the modules

        var before = DateTimeOffset.UtcNow;
        var inventory = await inventories.CollectAsync(CancellationToken.None);
        var after = DateTimeOffset.UtcNow;

        var collectedAt = DateTimeOffset.Parse(inventory!.Inventory.GetProperty("collectedAt").GetString()!, CultureInfo.InvariantCulture);
        Assert.That(after - before, Is.GreaterThan(TimeSpan.FromSeconds(1.5)), "the listing took its time");
        Assert.That(collectedAt - before, Is.LessThan(TimeSpan.FromSeconds(1)),
            "stamped when collection began, not when it ended: a VM finished during the listing has a later finish time than the stamp");
    }
}
