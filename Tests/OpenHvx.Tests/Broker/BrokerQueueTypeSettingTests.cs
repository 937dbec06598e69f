using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Messaging;

namespace OpenHvx.Tests.Broker;

/// <summary><c>Orchestrator:Broker:QueueType</c>: classic by default, quorum on request, anything else a start error naming it (no broker needed).</summary>
[TestFixture]
public sealed class BrokerQueueTypeSettingTests
{
    private static ServiceProvider Orchestrator(string? queueType)
    {
        var settings = new Dictionary<string, string?> { ["OPENHVX_RABBITMQ_URL"] = "amqp://guest:guest@127.0.0.1:1/" };
        if (queueType is not null)
            settings["Orchestrator:Broker:QueueType"] = queueType;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddOrchestratorRabbitMq(configuration).BuildServiceProvider();
    }

    [TestCase(null, SharedQueueType.Classic)]
    [TestCase("classic", SharedQueueType.Classic)]
    [TestCase("quorum", SharedQueueType.Quorum)]
    [TestCase(" Quorum ", SharedQueueType.Quorum)]
    public void A_known_queue_type_is_accepted(string? setting, SharedQueueType type)
    {
        using var services = Orchestrator(setting);
        Assert.DoesNotThrow(() => services.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(services.GetRequiredService<SharedQueues>().Type, Is.EqualTo(type));
    }

    [TestCase("quorom")]
    [TestCase("stream")]
    [TestCase("1")]
    [TestCase("")]
    public void Another_value_stops_the_start_naming_the_setting_and_the_value(string setting)
    {
        using var services = Orchestrator(setting);
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(error!.Message, Does.Match($@"\AOrchestrator:Broker:QueueType is '{setting}': set it to classic \(the default\) or quorum\.\z"));
    }

    [Test]
    public void Quorum_adds_the_queue_type_argument_and_classic_adds_none()
    {
        Assert.That(new SharedQueues(SharedQueueType.Quorum).Arguments(), Is.EqualTo(new Dictionary<string, object> { ["x-queue-type"] = "quorum" }));
        Assert.That(new SharedQueues(SharedQueueType.Classic).Arguments(), Is.Empty);
    }
}
