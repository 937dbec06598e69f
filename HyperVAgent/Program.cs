using OpenHvx.HyperVAgent.Messaging;

namespace OpenHvx.HyperVAgent;

/// <summary>The agent alone on a Hyper-V host (or simulated), on RabbitMQ (OPENHVX_RABBITMQ_URL), id OPENHVX_AGENT_ID.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
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
