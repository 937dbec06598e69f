using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// MassTransit's usage telemetry (a report to an internet host, at shutdown or after minutes: too late for the strace test of
/// OutboundConnectionTests to see by default) is switched off in every bus the services register.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class UsageTelemetryTests : DevHostFixture
{
    private static IConfiguration Broker() => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { [WireTopology.BrokerUrlSetting] = "amqp://guest:guest@localhost:5672/" })
        .Build();

    private static bool Enabled(IServiceCollection services)
    {
        services.AddLogging();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled;
    }

    [Test]
    public void The_orchestrators_bus_reports_no_usage_telemetry()
        => Assert.That(Enabled(new ServiceCollection().AddOrchestratorRabbitMq(Broker())), Is.False);

    [Test]
    public void The_agents_bus_reports_no_usage_telemetry()
        => Assert.That(Enabled(new ServiceCollection().AddHyperVAgent(Broker()).AddHyperVAgentRabbitMq(Broker())), Is.False);

    [Test]
    public void The_DevHosts_bus_reports_no_usage_telemetry()
        => Assert.That(DevHost.Services.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled, Is.False);
}
