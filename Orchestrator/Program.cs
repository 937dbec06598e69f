using OpenHvx.Orchestrator.Messaging;

namespace OpenHvx.Orchestrator;

/// <summary>The orchestrator alone, on RabbitMQ (OPENHVX_RABBITMQ_URL) with its SQLite file (OPENHVX_DB).</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrlsUnlessConfigured(builder.Configuration, "http://localhost:8080");
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddOrchestrator(builder.Configuration).AddOrchestratorRabbitMq(builder.Configuration);

        var app = builder.Build();
        app.UseOrchestratorPipeline();
        app.MapOrchestratorApi();
        app.Run();
    }
}
