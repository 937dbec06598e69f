using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.DevHost;

/// <summary>What DevHost puts in an empty store: a tenant and an image catalog (section <c>DevHost:Seed</c>).</summary>
public sealed class DevHostSeed
{
    public const string Section = "DevHost:Seed";

    public string TenantId { get; set; } = "test1";
    public string TenantName { get; set; } = "Test tenant 1";
    public long Cpu { get; set; } = 64;
    public long MemoryMB { get; set; } = 262144;
    public long StorageMB { get; set; } = 4194304;
    public long VmCount { get; set; } = 100;
}

public sealed class DevHostSeeder(ITenantStore tenants, IImageStore images, IOptions<DevHostSeed> seed, ILogger<DevHostSeeder> logger) : IHostedService
{
    /// <summary>The image catalog DevHost starts with; the simulated agent gets a file for each.</summary>
    public static readonly Image[] Catalog =
    [
        new("Rocky-10-GenericCloud-Base.10.0-20250609", "Rocky-10-GenericCloud-Base", "10.0-20250609", "Rocky-10-GenericCloud-Base-10.0-20250609.vhdx", 2, 10, "rocky", false,
            new DateTimeOffset(2025, 6, 9, 0, 0, 0, TimeSpan.Zero)),
        new("Rocky-10-GenericCloud-Base.10.1-20251120", "Rocky-10-GenericCloud-Base", "10.1-20251120", "Rocky-10-GenericCloud-Base-10.1-20251120.vhdx", 2, 10, "rocky", true,
            new DateTimeOffset(2025, 11, 20, 0, 0, 0, TimeSpan.Zero)),
        new("Ubuntu-24.04-Server-Cloud.20251015", "Ubuntu-24.04-Server-Cloud", "20251015", "Ubuntu-24.04-Server-Cloud-20251015.vhdx", 2, 8, "ubuntu", false,
            new DateTimeOffset(2025, 10, 15, 0, 0, 0, TimeSpan.Zero)),
    ];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var s = seed.Value;
        if (await tenants.TryCreateAsync(new Tenant(s.TenantId, s.TenantName, Tenant.Active, new QuotaAmounts(s.Cpu, s.MemoryMB, s.StorageMB, s.VmCount)), cancellationToken))
            logger.LogInformation("Seeded tenant {TenantId}", s.TenantId);
        if ((await images.ListAsync(cancellationToken)).Count == 0)
        {
            foreach (var image in Catalog)
                await images.UpsertAsync(image, cancellationToken);
            logger.LogInformation("Seeded {Count} catalog images", Catalog.Length);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
