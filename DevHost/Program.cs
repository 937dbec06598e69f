using OpenHvx.DevHost;

await using var devHost = await DevHostApp.StartAsync(args);
DevHostBanner.Print(devHost.Url);
await devHost.RunUntilShutdownAsync();

namespace OpenHvx.DevHost
{
    /// <summary>Marker for the entry point's assembly.</summary>
    public sealed class DevHostMarker;
}
