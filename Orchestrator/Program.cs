using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Orchestrator.Telemetry;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator;

/// <summary>The orchestrator alone, on RabbitMQ (OPENHVX_RABBITMQ_URL) with its SQLite file (OPENHVX_DB).</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Content root = the binaries, not the working directory: the configuration watcher must not see every
        // write of a SQLite file kept under the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrlsUnlessConfigured(builder.Configuration, "http://localhost:8080");
        builder.AddServiceDefaults(OrchestratorDiagnostics.Profile);
        builder.Services.AddOrchestrator(builder.Configuration).AddOrchestratorRabbitMq(builder.Configuration);

        var app = builder.Build();
        try
        {
            // Opened now, so that a database that cannot be written stops the process with one line, not a stack trace at start.
            app.Services.GetRequiredService<OpenHvx.Orchestrator.Persistence.IStoreTransactions>();
        }
        catch (OpenHvx.Orchestrator.Persistence.StoreUnavailableException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 1;
        }
        app.UseOrchestratorPipeline(OrchestratorDiagnostics.Profile);
        app.MapOrchestratorApi();
        app.MapDefaultEndpoints(OrchestratorDiagnostics.Profile);
        try
        {
            app.Run();
        }
        catch (Exception ex) when (SharedQueueMismatch(ex) is { } mismatch)
        {
            Console.Error.WriteLine(mismatch.Message);
            return 1;
        }
        return 0;
    }

    private static SharedQueueMismatchException? SharedQueueMismatch(Exception ex) => ex switch
    {
        SharedQueueMismatchException mismatch => mismatch,
        AggregateException aggregate => aggregate.InnerExceptions.Select(SharedQueueMismatch).FirstOrDefault(m => m is not null),
        _ => null,
    };
}
