using OpenHvx.DevHost;

var builder = WebApplication.CreateBuilder(args);
builder.AddDevHost();

var app = builder.Build();
app.UseDevHost();
app.Run();

namespace OpenHvx.DevHost
{
    /// <summary>Marker for WebApplicationFactory (the entry point's assembly).</summary>
    public sealed class DevHostMarker;
}
