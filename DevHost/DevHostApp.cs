using MassTransit;
using Microsoft.AspNetCore.Hosting.Server;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Proxy;
using OpenHvx.HyperVAgent;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Telemetry;
using OpenHvx.Gateway.Telemetry;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.DevHost;

/// <summary>
/// The all-in-one process: the gateway on the public port (default http://localhost:8080) in front of the
/// orchestrator, task saga and one simulated agent on MassTransit's in-memory transport, which listen on a
/// loopback port of their own. State in SQLite files under <c>./.openhvx/</c>. Tokens name the gateway's address as their issuer
/// unless Gateway:Issuer (OPENHVX_ISSUER) says otherwise; the orchestrator reads it from the gateway's discovery document.
/// </summary>
public sealed class DevHostApp : IAsyncDisposable
{
    private DevHostApp(WebApplication gateway, WebApplication core, string url, string coreUrl)
    {
        Gateway = gateway;
        Core = core;
        Url = url;
        CoreUrl = coreUrl;
    }

    public WebApplication Gateway { get; }

    /// <summary>Orchestrator and agent.</summary>
    public WebApplication Core { get; }

    /// <summary>Where clients go: the gateway.</summary>
    public string Url { get; }

    /// <summary>The orchestrator behind the gateway (it validates tokens itself, so calling it directly needs one too).</summary>
    public string CoreUrl { get; }

    /// <summary>
    /// The orchestrator and the agent in one host, with the process's only telemetry providers: they read every source and meter in the
    /// process, the gateway's too, and serve <c>/metrics</c> on the orchestrator's loopback address (and <c>Management:Url</c> when set).
    /// </summary>
    private static readonly ServiceProfile CoreProfile = new("openhvx-devhost",
        [OrchestratorDiagnostics.Name, AgentDiagnostics.Name], [OrchestratorDiagnostics.Name, AgentDiagnostics.Name]) { DefaultLogFormat = LogFormat.Text };

    private static readonly ServiceProfile GatewayProfile = GatewayDiagnostics.Profile with { OwnsTelemetry = false, DefaultLogFormat = LogFormat.Text };

    public static async Task<DevHostApp> StartAsync(string[] args, IDictionary<string, string?>? settings = null)
    {
        var gatewayBuilder = CreateBuilder(args, settings);
        gatewayBuilder.WebHost.UseUrlsUnlessConfigured(gatewayBuilder.Configuration, "http://localhost:8080");
        gatewayBuilder.AddServiceDefaults(GatewayProfile);
        gatewayBuilder.Services.AddGateway(gatewayBuilder.Configuration);
        var gateway = gatewayBuilder.Build();
        gateway.UseGateway(GatewayProfile);
        await gateway.StartAsync();
        var url = LoopbackAddressOf(gateway);

        WebApplication? core = null;
        try
        {
            var coreBuilder = CreateBuilder(args, settings);
            coreBuilder.WebHost.UseUrls(coreBuilder.Configuration["DevHost:OrchestratorUrl"] ?? "http://127.0.0.1:0");
            coreBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Orchestrator:Authority"] = url });
            coreBuilder.AddServiceDefaults(CoreProfile);
            coreBuilder.Services.AddOrchestrator(coreBuilder.Configuration);
            coreBuilder.Services.AddHyperVAgent(coreBuilder.Configuration);
            coreBuilder.Services.AddMassTransit(bus =>
            {
                // MassTransit would otherwise report usage to an internet host; nothing here was configured to leave the network.
                bus.DisableUsageTelemetry();
                // Health answers name the broker as such (MassTransit calls its check masstransit-bus).
                bus.ConfigureHealthCheckOptions(health => health.Name = "broker");
                bus.AddOrchestratorConsumers();
                bus.AddHyperVAgentConsumers();
                bus.UsingInMemory((context, transport) =>
                {
                    transport.ConfigureHyperVAgentEndpoints(context);
                    transport.ConfigureEndpoints(context);
                });
            });
            core = coreBuilder.Build();
            core.UseOrchestratorPipeline(CoreProfile);
            core.MapOrchestratorApi();
            core.MapDefaultEndpoints(CoreProfile);
            await core.StartAsync();
            var coreUrl = LoopbackAddressOf(core);
            gateway.Services.GetRequiredService<OrchestratorUpstream>().SetAddress(new Uri(coreUrl));
            return new DevHostApp(gateway, core, url, coreUrl);
        }
        catch
        {
            if (core is not null)
                await core.DisposeAsync();
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>Until Ctrl+C (or SIGTERM), then both stop.</summary>
    public async Task RunUntilShutdownAsync()
    {
        var stopping = new TaskCompletionSource();
        Gateway.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        Core.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        await stopping.Task;
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.StopAsync();
        await Core.StopAsync();
        await Gateway.DisposeAsync();
        await Core.DisposeAsync();
    }

    private static WebApplicationBuilder CreateBuilder(string[] args, IDictionary<string, string?>? settings)
    {
        // Content root = the binaries (with appsettings.json), not the working directory: `dotnet run` starts in the
        // caller's directory, which holds the state, and the configuration watcher must not see every SQLite write.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    private static string LoopbackAddressOf(WebApplication app) => BoundAddress.Of(app.Services.GetRequiredService<IServer>());
}
