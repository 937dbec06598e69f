using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Messaging;

public static class OrchestratorMessaging
{
    /// <summary>
    /// The orchestrator on RabbitMQ: saga and step consumers on MassTransit's own topology, and the
    /// agents' plain-JSON wire (jobs, results, agent.telemetry, task.events) as architecture.md names it.
    /// </summary>
    public static IServiceCollection AddOrchestratorRabbitMq(this IServiceCollection services, IConfiguration configuration)
    {
        var url = WireTopology.BrokerUri(configuration[WireTopology.BrokerUrlSetting]);
        services.AddOptions<BrokerOptions>().Bind(configuration.GetSection(BrokerOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>();
        services.AddSingleton(sp => new SharedQueues(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.SharedQueueType));
        // The first hosted service to start: a shared queue of another type stops the start before any job, the bus included, has begun.
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<SharedQueueCheck>(sp, url)));
        services.AddSingleton(new AgentQueueBinder(url));
        services.Replace(ServiceDescriptor.Singleton<IAgentTaskSender, ExchangeAgentTaskSender>());
        services.Replace(ServiceDescriptor.Singleton<IAgentControlSender, ExchangeAgentControlSender>());
        services.Replace(ServiceDescriptor.Singleton<ITaskEventPublisher, WireTaskEventPublisher>());
        services.Replace(ServiceDescriptor.Singleton<Resources.IResourceEventPublisher, WireResourceEventPublisher>());
        services.AddHostedService(sp => new WireTopologyDeclarer(url, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WireTopologyDeclarer>>()));
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<AgentQueueMonitor>(sp, url));
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<DeadLetters.DeadLetterCollector>(sp, url));
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TaskEventWakeUp>(sp, url));
        services.AddHostedService(sp => sp.GetRequiredService<TaskEventWakeUp>());
        services.AddMassTransit(bus =>
        {
            // MassTransit would otherwise report usage to an internet host; nothing here was configured to leave the network.
            bus.DisableUsageTelemetry();
            // Health answers name the broker as such (MassTransit calls its check masstransit-bus).
            bus.ConfigureHealthCheckOptions(health => health.Name = "broker");
            bus.AddOrchestratorConsumers(telemetryOnWire: true);
            bus.AddConsumer<AgentResultRelay>().ExcludeFromConfigureEndpoints();
            bus.AddConsumer<WireHeartbeatConsumer>().ExcludeFromConfigureEndpoints();
            bus.AddConsumer<WireInventoryConsumer>().ExcludeFromConfigureEndpoints();
            // The endpoints ConfigureEndpoints makes (the saga's) are shared; the bus's own temporary endpoint is not one of them.
            bus.AddConfigureEndpointsCallback((context, _, endpoint) =>
            {
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    context.GetRequiredService<SharedQueues>().ApplyTo(rabbit);
            });
            bus.UsingRabbitMq((context, rabbit) =>
            {
                var shared = context.GetRequiredService<SharedQueues>();
                rabbit.Host(url);
                rabbit.AddRawJsonSerializer(RawSerializerOptions.All);

                rabbit.ReceiveEndpoint(WireTopology.ResultsQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(shared, WireTopology.ResultsExchange, "topic", [.. WireTopology.ResultsBindings]);
                    endpoint.UseTransientRetry(context);
                    endpoint.ConfigureConsumer<AgentResultRelay>(context);
                });
                rabbit.ReceiveEndpoint(WireTopology.HeartbeatQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(shared, WireTopology.TelemetryExchange, "topic", ["heartbeat.*"]);
                    endpoint.ConfigureConsumer<WireHeartbeatConsumer>(context);
                });
                rabbit.ReceiveEndpoint(WireTopology.InventoryQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(shared, WireTopology.TelemetryExchange, "topic", ["inventory.*"]);
                    endpoint.ConfigureConsumer<WireInventoryConsumer>(context);
                });
                rabbit.ConfigureEndpoints(context);
            });
        });
        return services;
    }

    /// <summary>
    /// A queue fed by an exchange of plain JSON messages from agents (no MassTransit envelope); a refused message goes to its
    /// <c>_error</c> queue, one nothing consumes to <c>_skipped</c>, without the agent's user_id (<see cref="AgentMessageMove"/>).
    /// The queue and those two are shared queues (<see cref="SharedQueues"/>).
    /// </summary>
    public static void PlainJsonFrom(this IRabbitMqReceiveEndpointConfigurator endpoint, SharedQueues shared, string exchange, string exchangeType,
        IReadOnlyList<string> routingKeys)
    {
        var queue = endpoint.InputAddress.Segments[^1];
        shared.ApplyTo(endpoint);
        endpoint.ConfigureError(error =>
        {
            error.UseFilter(new MassTransit.Middleware.GenerateFaultFilter());
            error.UseFilter(new AgentMessageErrorFilter(queue, shared));
        });
        endpoint.ConfigureDeadLetter(deadLetter => deadLetter.UseFilter(new AgentMessageDeadLetterFilter(queue, shared)));
        endpoint.ConfigureConsumeTopology = false;
        // Only plain JSON is read here, whatever content type a sender claims.
        endpoint.ClearSerialization();
        endpoint.DefaultContentType = PlainJson.ContentType;
        endpoint.UseRawJsonDeserializer(RawSerializerOptions.All, isDefault: true);
        // What the consumers publish onward (to the saga) keeps MassTransit's envelope.
        endpoint.UseJsonSerializer();
        foreach (var routingKey in routingKeys)
        {
            endpoint.Bind(exchange, binding =>
            {
                binding.ExchangeType = exchangeType;
                binding.Durable = true;
                binding.RoutingKey = routingKey;
            });
        }
    }
}
