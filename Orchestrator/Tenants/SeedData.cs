using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tenants;

/// <summary>What a fresh store gets (section <c>Orchestrator:Seed</c>): the demo image catalog, and a tenant when one is named.</summary>
public sealed class SeedOptions
{
    public bool Images { get; set; } = true;
    /// <summary>Creates this tenant (active) when it does not exist; none when empty.</summary>
    public string? TenantId { get; set; }
    public string? TenantName { get; set; }
    public long Cpu { get; set; } = 64;
    public long MemoryMB { get; set; } = 262144;
    public long StorageMB { get; set; } = 4194304;
    public long VmCount { get; set; } = 100;
}

public sealed class SeedData(ITenantStore tenants, IImageStore images, IOptions<OrchestratorOptions> options, ILogger<SeedData> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var seed = options.Value.Seed;
        if (seed.TenantId is { Length: > 0 } tenantId &&
            await tenants.TryCreateAsync(new Tenant(tenantId, seed.TenantName ?? tenantId, Tenant.Active, new QuotaAmounts(seed.Cpu, seed.MemoryMB, seed.StorageMB, seed.VmCount)), cancellationToken))
            logger.LogInformation("Seeded tenant {TenantId}", tenantId);
        if (seed.Images && (await images.ListAsync(cancellationToken)).Count == 0)
        {
            foreach (var i in DemoCatalog.Images)
                await images.TryAddAsync(new Image(i.ImageId, i.Name, i.Version, i.File, i.Generation, i.MinStorageGB, i.Os, i.IsDefault, i.PublishedAt), cancellationToken);
            logger.LogInformation("Seeded {Count} catalog images", DemoCatalog.Images.Count);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
