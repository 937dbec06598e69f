namespace OpenHvx.Gateway;

/// <summary>The gateway alone: token service and proxy to OPENHVX_ORCHESTRATOR_URL, identity store in OPENHVX_GATEWAY_DB.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        // Content root = the binaries, not the working directory: the configuration watcher must not see every
        // write of a SQLite file kept under the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls("http://localhost:8080");
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            .AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning)
            .AddFilter("OpenIddict", LogLevel.Warning);
        builder.Services.AddGateway(builder.Configuration);

        var app = builder.Build();
        app.UseGateway();
        app.Run();
    }
}
