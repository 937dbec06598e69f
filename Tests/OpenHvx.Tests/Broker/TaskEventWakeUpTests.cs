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
    private TestBroker _broker = null!;
    private TaskEventSignal _signal = null!;
    private OrchestratorInstance _instance = null!;
    private TaskEventWakeUp _wakeUp = null!;
    private IConnection _connection = null!;
    private IChannel _channel = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _broker = await TestBroker.CreateAsync();
        _signal = new TaskEventSignal();
        _instance = new OrchestratorInstance();
        _wakeUp = new TaskEventWakeUp(new Uri(_broker.Url), _signal, _instance, NullLogger<TaskEventWakeUp>.Instance);
        await _wakeUp.StartAsync(CancellationToken.None);
        _connection = await new ConnectionFactory { Uri = new Uri(_broker.Url) }.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync();
    }

    [TearDown]
    public async Task StopAsync()
    {
        await _wakeUp.StopAsync(CancellationToken.None);
        _wakeUp.Dispose();
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private Task<string[]> WakeUpQueuesAsync() => _broker.ServerNamedQueuesBoundToAsync(WireTopology.TaskEventsExchange);

    private async Task PublishAsync(string? publisher)
    {
        var properties = new BasicProperties { ContentType = "application/json" };
        if (publisher is not null)
            properties.Headers = new Dictionary<string, object?> { [TaskEventWakeUp.PublisherHeader] = Encoding.UTF8.GetBytes(publisher) };
        await _channel.BasicPublishAsync(WireTopology.TaskEventsExchange, "test1.vm.create.SUCCESS", false, properties, "{}"u8.ToArray());
    }

    [Test]
    public async Task Another_orchestrators_transition_wakes_the_readers_and_this_ones_own_does_not()
    {
        var queue = (await Eventually.Get(WakeUpQueuesAsync, queues => queues.Length == 1, TimeSpan.FromSeconds(20), "it listens on task.events")).Single();
        var arguments = (await _broker.QueuesAsync()).EnumerateArray().Single(q => q.GetProperty("name").GetString() == queue).GetProperty("arguments").ToString();
        Assert.That(arguments, Does.Contain("x-max-length").And.Contain("100").And.Contain("x-overflow").And.Contain("drop-head"),
            "at most 100 wait on the broker, the oldest dropped");

        await PublishAsync(_instance.Id);
        await Eventually.True(() => Task.FromResult(_wakeUp.Deliveries == 1), TimeSpan.FromSeconds(20), "its own transition arrived");
        Assert.That(_wakeUp.Wakes, Is.Zero, "its own transition woke nobody");

        var next = _signal.Next;
        await PublishAsync("another-host-4242-0badc0de");
        await next.WaitAsync(TimeSpan.FromSeconds(20));
        await PublishAsync(null);
        await Eventually.True(() => Task.FromResult(_wakeUp.Deliveries == 3), TimeSpan.FromSeconds(20), "both arrived");
        Assert.That(_wakeUp.Wakes, Is.EqualTo(2), "another orchestrator's transition and one without the header (an earlier release) wake the readers");
    }

    [Test]
    public async Task After_its_connection_is_closed_it_listens_again_on_a_new_queue_and_wakes_the_readers()
    {
        var first = (await Eventually.Get(WakeUpQueuesAsync, queues => queues.Length == 1, TimeSpan.FromSeconds(20), "it listens on task.events")).Single();
        // Listens counts after the wake-up of a (re)started listen: taken after it, Next completes only at the next one.
        await Eventually.True(() => Task.FromResult(_wakeUp.Listens == 1), TimeSpan.FromSeconds(20));
        var woken = _signal.Next;

        Assert.That(await BrokerFaults.CloseConnectionsAsync(_broker, _broker.User, TaskEventWakeUp.ClientName), Is.EqualTo(1));

        var again = (await Eventually.Get(WakeUpQueuesAsync, queues => queues.Length == 1 && queues[0] != first, TimeSpan.FromSeconds(30),
            "it listens again on a new queue")).Single();
        Assert.That(again, Is.Not.EqualTo(first));
        await woken.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(_wakeUp.Listens, Is.EqualTo(2));

        var next = _signal.Next;
        await PublishAsync("another-host-4242-0badc0de");
        await next.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(_wakeUp.Wakes, Is.EqualTo(1), "a transition after the loss wakes the readers");
    }
}
