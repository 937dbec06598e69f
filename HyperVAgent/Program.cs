using OpenHvx.HyperVAgent.Messaging;

namespace OpenHvx.HyperVAgent;

/// <summary>The agent alone on a Hyper-V host (or simulated), on RabbitMQ (OPENHVX_RABBITMQ_URL), id OPENHVX_AGENT_ID.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        // Content root = the binaries, not the working directory: the configuration watcher must not see every
        // write of a SQLite file kept under the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls("http://localhost:8090");
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddHyperVAgent(builder.Configuration).AddHyperVAgentRabbitMq(builder.Configuration);
        builder.Services.AddHealthChecks();

        var app = builder.Build();
        app.MapHyperVAgentHealth();
        app.Run();
    }
}
