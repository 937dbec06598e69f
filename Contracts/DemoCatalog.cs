namespace OpenHvx.Contracts;

/// <summary>
/// The image catalog a fresh orchestrator starts with, and the image files a fresh simulated
/// agent creates, so that a new installation can create a VM at once.
/// </summary>
public static class DemoCatalog
{
    public sealed record DemoImage(string ImageId, string Name, string Version, string File, int Generation, int MinStorageGB, string Os, bool IsDefault, DateTimeOffset PublishedAt);

    public static readonly IReadOnlyList<DemoImage> Images =
    [
        new("Rocky-10-GenericCloud-Base.10.0-20250609", "Rocky-10-GenericCloud-Base", "10.0-20250609", "Rocky-10-GenericCloud-Base-10.0-20250609.vhdx", 2, 10, "rocky", false,
            new DateTimeOffset(2025, 6, 9, 0, 0, 0, TimeSpan.Zero)),
        new("Rocky-10-GenericCloud-Base.10.1-20251120", "Rocky-10-GenericCloud-Base", "10.1-20251120", "Rocky-10-GenericCloud-Base-10.1-20251120.vhdx", 2, 10, "rocky", true,
            new DateTimeOffset(2025, 11, 20, 0, 0, 0, TimeSpan.Zero)),
        new("Ubuntu-24.04-Server-Cloud.20251015", "Ubuntu-24.04-Server-Cloud", "20251015", "Ubuntu-24.04-Server-Cloud-20251015.vhdx", 2, 8, "ubuntu", false,
            new DateTimeOffset(2025, 10, 15, 0, 0, 0, TimeSpan.Zero)),
    ];
}
