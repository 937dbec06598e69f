using MassTransit;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using OpenHvx.HyperVAgent;
using OpenHvx.Orchestrator;

namespace OpenHvx.DevHost;

/// <summary>
/// The all-in-one process: orchestrator API, task saga and one simulated agent on MassTransit's
/// in-memory transport, state in a SQLite file under <c>./.openhvx/</c>.
/// </summary>
public static class DevHostExtensions
{
    public static WebApplicationBuilder AddDevHost(this WebApplicationBuilder builder)
    {
        // `dotnet run` starts in the caller's directory (it only holds state): read the bundled appsettings.json.
        if (!File.Exists(Path.Combine(builder.Environment.ContentRootPath, "appsettings.json")))
        {
            builder.Configuration.Sources.Insert(0, new JsonConfigurationSource
            {
                FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
                Path = "appsettings.json",
                Optional = true,
            });
        }
        builder.WebHost.UseUrlsUnlessConfigured(builder.Configuration, "http://localhost:8080");

        builder.Services.AddOrchestrator(builder.Configuration);
        builder.Services.AddHyperVAgent(builder.Configuration);

        builder.Services.AddMassTransit(bus =>
        {
            bus.AddOrchestratorConsumers();
            bus.AddHyperVAgentConsumers();
            bus.UsingInMemory((context, transport) =>
            {
                transport.ConfigureHyperVAgentEndpoints(context);
                transport.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    public static WebApplication UseDevHost(this WebApplication app)
    {
        app.UseOrchestratorErrors();
        app.MapOrchestratorApi();
        app.Lifetime.ApplicationStarted.Register(() => DevHostBanner.Print(app));
        return app;
    }
}
