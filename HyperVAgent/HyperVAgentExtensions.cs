using System.Text.RegularExpressions;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.HyperVAgent.Telemetry;

namespace OpenHvx.HyperVAgent;

public static partial class HyperVAgentExtensions
{
    public static IServiceCollection AddHyperVAgent(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AgentOptions>()
            .Bind(configuration.GetSection(AgentOptions.Section))
            .PostConfigure(options =>
            {
                if (configuration["OPENHVX_AGENT_ID"] is { Length: > 0 } id)
                    options.AgentId = id;
                if (configuration["OPENHVX_AGENT_DATA"] is { Length: > 0 } data)
                    options.DataPath = data;
                if (options.AgentId.Length == 0)
                    options.AgentId = Regex.Replace(Environment.MachineName, "[^A-Za-z0-9_-]", "-").ToLowerInvariant();
            })
            .Validate(options => Identifiers.IsAgentId(options.AgentId), "Agent id must match " + Identifiers.AgentIdRule)
            .Validate(options => options.MaxConcurrency is >= 1 and <= 64, "MaxConcurrency must be from 1 to 64")
            .Validate(options => options.ResultRetryInterval > TimeSpan.Zero, "ResultRetryInterval must be positive")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<PowerShellRunner>();
        services.AddSingleton<ActionScripts>();
        services.AddMetrics();
        services.AddSingleton<Telemetry.AgentMetrics>();
        services.AddSingleton<TaskJournal>();
        services.AddSingleton<ResultSender>();
        services.AddSingleton<TaskCleanup>();
        services.AddSingleton<VmLocks>();
        services.AddSingleton<RunningTasks>();
        services.AddSingleton<AgentShutdown>();
        // The host waits for running tasks: their grace period, then the time to report them interrupted.
        services.AddOptions<HostOptions>().Configure<IOptions<AgentOptions>>((host, agent) =>
        {
            var needed = agent.Value.ShutdownGrace + TimeSpan.FromSeconds(15);
            if (host.ShutdownTimeout < needed)
                host.ShutdownTimeout = needed;
        });
        services.AddSingleton<SimulatedHost>();
        services.TryAddSingleton<IAgentWire, BusAgentWire>();
        services.AddHostedService<HeartbeatService>();
        services.AddHostedService<InventoryService>();
        services.AddHostedService<ResultRetryService>();
        return services;
    }

    public static IBusRegistrationConfigurator AddHyperVAgentConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<AgentTaskConsumer>().ExcludeFromConfigureEndpoints();
        bus.AddConsumer<AgentTaskCancelConsumer>().ExcludeFromConfigureEndpoints();
        return bus;
    }

    /// <summary>The agent's task queue, <c>agent.&lt;agentId&gt;.tasks</c>, with its concurrency limit, and its control queue <c>agent.&lt;agentId&gt;.control</c>.</summary>
    public static void ConfigureHyperVAgentEndpoints(this IBusFactoryConfigurator configurator, IBusRegistrationContext context)
    {
        var options = context.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentOptions>>().Value;
        configurator.ReceiveEndpoint(WireTopology.AgentQueue(options.AgentId), endpoint =>
        {
            endpoint.ConcurrentMessageLimit = options.MaxConcurrency;
            endpoint.ConfigureConsumer<AgentTaskConsumer>(context);
        });
        configurator.ReceiveEndpoint(WireTopology.AgentControlQueue(options.AgentId), endpoint => endpoint.ConfigureConsumer<AgentTaskCancelConsumer>(context));
    }
}
