using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Tasks;

namespace OpenHvx.HyperVAgent.Messaging;

public static class AgentMessaging
{
    /// <summary>
    /// The agent on RabbitMQ: consumes plain-JSON tasks from the durable queue <c>agent.&lt;id&gt;.tasks</c>
    /// bound to <c>jobs</c> with <c>agent.&lt;id&gt;</c>, control messages (cancels) from <c>agent.&lt;id&gt;.control</c> bound with
    /// <c>agent.&lt;id&gt;.control</c>, and answers on <c>results</c> and <c>agent.telemetry</c>.
    /// </summary>
    public static IServiceCollection AddHyperVAgentRabbitMq(this IServiceCollection services, IConfiguration configuration)
    {
        var url = WireTopology.BrokerUri(configuration[WireTopology.BrokerUrlSetting]);
        services.AddSingleton(sp => new AgentWirePublisher(url, sp.GetRequiredService<IOptions<AgentOptions>>().Value.AgentId,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<AgentWirePublisher>>()));
        services.Replace(ServiceDescriptor.Singleton<IAgentWire, ExchangeAgentWire>());
        services.AddMassTransit(bus =>
        {
            // MassTransit would otherwise report usage to an internet host; nothing here was configured to leave the network.
            bus.DisableUsageTelemetry();
            // Health answers name the broker as such (MassTransit calls its check masstransit-bus).
            bus.ConfigureHealthCheckOptions(health => health.Name = "broker");
            bus.AddHyperVAgentConsumers();
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(url);
                rabbit.AddRawJsonSerializer(RawSerializerOptions.All);
                var options = context.GetRequiredService<IOptions<AgentOptions>>().Value;
                rabbit.OverrideDefaultBusEndpointQueueName(WireTopology.AgentBusQueue(options.AgentId));
                rabbit.ReceiveEndpoint(WireTopology.AgentQueue(options.AgentId), endpoint =>
                {
                    // The orchestrator binds this queue to `jobs` (AgentQueueBinder): binding it here would need configure on
                    // `jobs` (MassTransit declares the source exchange) and read on it, which would let one agent bind its
                    // queue to another agent's routing key and read that agent's tasks.
                    endpoint.ConfigureConsumeTopology = false;
                    endpoint.DefaultContentType = PlainJson.ContentType;
                    endpoint.UseRawJsonDeserializer(RawSerializerOptions.All, isDefault: true);
                    // A fault event would need an exchange outside the agent's names; a failed task goes to the _error queue.
                    endpoint.PublishFaults = false;
                    endpoint.PrefetchCount = (ushort)Math.Max(1, options.MaxConcurrency);
                    endpoint.ConcurrentMessageLimit = options.MaxConcurrency;
                    endpoint.ConfigureConsumer<AgentTaskConsumer>(context);
                });
                // Its own queue, so that a cancel never waits behind the tasks it may have to stop (bound by the orchestrator too).
                rabbit.ReceiveEndpoint(WireTopology.AgentControlQueue(options.AgentId), endpoint =>
                {
                    endpoint.ConfigureConsumeTopology = false;
                    endpoint.DefaultContentType = PlainJson.ContentType;
                    endpoint.UseRawJsonDeserializer(RawSerializerOptions.All, isDefault: true);
                    endpoint.PublishFaults = false;
                    endpoint.ConfigureConsumer<AgentTaskCancelConsumer>(context);
                });
            });
        });
        return services;
    }
}
