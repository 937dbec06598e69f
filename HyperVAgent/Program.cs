using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.HyperVAgent;

/// <summary>The agent alone on a Hyper-V host (or simulated), on RabbitMQ (OPENHVX_RABBITMQ_URL), id OPENHVX_AGENT_ID.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        // Content root = the binaries, not the working directory: the configuration watcher must not see every
        // write of a SQLite file kept under the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrlsUnlessConfigured(builder.Configuration, "http://localhost:8090");
        builder.AddServiceDefaults(AgentDiagnostics.Profile);
        builder.Services.AddHyperVAgent(builder.Configuration).AddHyperVAgentRabbitMq(builder.Configuration);

        var app = builder.Build();
        app.UseServiceDefaults(AgentDiagnostics.Profile);
        app.MapDefaultEndpoints(AgentDiagnostics.Profile);
        app.Run();
    }
}
