using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
        services.AddSingleton(new AgentQueueBinder(url));
        services.Replace(ServiceDescriptor.Singleton<IAgentTaskSender, ExchangeAgentTaskSender>());
        services.Replace(ServiceDescriptor.Singleton<IAgentControlSender, ExchangeAgentControlSender>());
        services.Replace(ServiceDescriptor.Singleton<ITaskEventPublisher, WireTaskEventPublisher>());
        services.Replace(ServiceDescriptor.Singleton<Resources.IResourceEventPublisher, WireResourceEventPublisher>());
        services.AddHostedService(sp => new WireTopologyDeclarer(url, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<WireTopologyDeclarer>>()));
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<AgentQueueMonitor>(sp, url));
        services.AddHostedService(sp => ActivatorUtilities.CreateInstance<DeadLetters.DeadLetterCollector>(sp, url));
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
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(url);
                rabbit.AddRawJsonSerializer(RawSerializerOptions.All);

                rabbit.ReceiveEndpoint(WireTopology.ResultsQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(WireTopology.ResultsExchange, "topic", [.. WireTopology.ResultsBindings]);
                    endpoint.UseTransientRetry(context);
                    endpoint.ConfigureConsumer<AgentResultRelay>(context);
                });
                rabbit.ReceiveEndpoint(WireTopology.HeartbeatQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(WireTopology.TelemetryExchange, "topic", ["heartbeat.*"]);
                    endpoint.ConfigureConsumer<WireHeartbeatConsumer>(context);
                });
                rabbit.ReceiveEndpoint(WireTopology.InventoryQueue, endpoint =>
                {
                    endpoint.PlainJsonFrom(WireTopology.TelemetryExchange, "topic", ["inventory.*"]);
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
    /// </summary>
    public static void PlainJsonFrom(this IRabbitMqReceiveEndpointConfigurator endpoint, string exchange, string exchangeType, IReadOnlyList<string> routingKeys)
    {
        var queue = endpoint.InputAddress.Segments[^1];
        endpoint.ConfigureError(error =>
        {
            error.UseFilter(new MassTransit.Middleware.GenerateFaultFilter());
            error.UseFilter(new AgentMessageErrorFilter(queue));
        });
        endpoint.ConfigureDeadLetter(deadLetter => deadLetter.UseFilter(new AgentMessageDeadLetterFilter(queue)));
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
