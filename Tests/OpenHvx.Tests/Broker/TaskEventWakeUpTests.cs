using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Testing;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>Transitions another orchestrator published on <c>task.events</c> wake this process's event readers; its own do not.</summary>
[TestFixture]
[Category("Broker")]
public sealed class TaskEventWakeUpTests
{
    [Test]
    public async Task Another_orchestrators_transition_wakes_the_readers_and_this_ones_own_does_not()
    {
        await using var broker = await TestBroker.CreateAsync();
        var signal = new TaskEventSignal();
        var instance = new OrchestratorInstance();
        using var wakeUp = new TaskEventWakeUp(new Uri(broker.Url), signal, instance, NullLogger<TaskEventWakeUp>.Instance);
        await wakeUp.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.True(async () => (await broker.BindingsAsync()).EnumerateArray().Any(b =>
                    b.GetProperty("source_name").GetString() == WireTopology.TaskEventsExchange && b.GetProperty("destination_name").GetString()!.StartsWith("amq.gen-")),
                TimeSpan.FromSeconds(20), "it listens on task.events");
            await using var connection = await new ConnectionFactory { Uri = new Uri(broker.Url) }.CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();

            async Task PublishAsync(string? publisher)
            {
                var properties = new BasicProperties { ContentType = "application/json" };
                if (publisher is not null)
                    properties.Headers = new Dictionary<string, object?> { [TaskEventWakeUp.PublisherHeader] = Encoding.UTF8.GetBytes(publisher) };
                await channel.BasicPublishAsync(WireTopology.TaskEventsExchange, "test1.vm.create.SUCCESS", false, properties, "{}"u8.ToArray());
            }

            var next = signal.Next;
            await PublishAsync(instance.Id);
            await PublishAsync("another-host-4242-0badc0de");
            await next.WaitAsync(TimeSpan.FromSeconds(20));
            // The two arrive in order on one queue: the wake-up counted when the second arrived proves the first woke nobody.
            await Eventually.True(() => Task.FromResult(wakeUp.Wakes >= 1), TimeSpan.FromSeconds(20));
            Assert.That(wakeUp.Wakes, Is.EqualTo(1), "its own transition was skipped");

            await PublishAsync(null);
            await Eventually.True(() => Task.FromResult(wakeUp.Wakes == 2), TimeSpan.FromSeconds(20),
                "a transition without the header (an orchestrator of an earlier release) wakes them too");
        }
        finally
        {
            await wakeUp.StopAsync(CancellationToken.None);
        }
    }
}
