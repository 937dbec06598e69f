using OpenHvx.Gateway.Telemetry;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway;

/// <summary>The gateway alone: token service and proxy to OPENHVX_ORCHESTRATOR_URL, identity store in OPENHVX_GATEWAY_DB.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        // Content root = the binaries, not the working directory: the configuration watcher must not see every
        // write of a SQLite file kept under the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrlsUnlessConfigured(builder.Configuration, "http://localhost:8080");
        builder.AddServiceDefaults(GatewayDiagnostics.Profile);
        builder.Services.AddGateway(builder.Configuration);

        var app = builder.Build();
        app.UseGateway(GatewayDiagnostics.Profile);
        app.Run();
    }
}
