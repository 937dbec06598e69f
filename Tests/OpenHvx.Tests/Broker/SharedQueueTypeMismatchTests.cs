using System.Text.Json;
using System.Text.RegularExpressions;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// A shared queue that exists with the other queue type cannot be declared again (PRECONDITION_FAILED): the orchestrator stops
/// at start, naming the queue and what to do, before its bus consumes anything.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class SharedQueueTypeMismatchTests
{
    [TestCase("quorum", "classic")]
    [TestCase("classic", "quorum")]
    public async Task The_orchestrator_stops_at_start_naming_a_shared_queue_of_the_other_type(string setting, string existing)
    {
        TestBroker.RequireBroker();
        Assume.That(BrokerManagementApi.Instance, Is.Not.Null, "the queues are read through the broker's management API");
        await using var broker = await TestBroker.CreateAsync();
        using var folder = new TempFolder("queue-type");
        await using (var connection = await new ConnectionFactory { Uri = new Uri(broker.Url) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var arguments = existing == "quorum" ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;
            await channel.QueueDeclareAsync("orchestrator.tasks", durable: true, exclusive: false, autoDelete: false, arguments);
        }

        await using var orchestrator = ServiceProcess.Start("orchestrator", "Orchestrator", new Dictionary<string, string>
        {
            ["OPENHVX_RABBITMQ_URL"] = broker.Url,
            ["OPENHVX_DB"] = folder.File("orchestrator.db"),
            ["OPENHVX_AUTHORITY"] = "http://127.0.0.1:1",
            ["Orchestrator__Broker__QueueType"] = setting,
        });
        await orchestrator.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.That(orchestrator.ExitCode, Is.EqualTo(1), orchestrator.Output);
        var expected = new Regex(@"\AThe queue 'orchestrator\.tasks' on virtual host '" + Regex.Escape(broker.VirtualHost) + "' exists with other arguments than "
            + $"Orchestrator:Broker:QueueType={setting} declares \\(the broker answered: PRECONDITION_FAILED - inequivalent arg 'x-queue-type' .*\\)\\. "
            + @"A queue's type cannot be changed in place: stop every orchestrator, let the queue drain, delete it and start again, or start on a new virtual host "
            + @"\(README, ""Quorum queues""\)\.\z");
        var lines = orchestrator.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.That(lines.Count(expected.IsMatch), Is.EqualTo(1), orchestrator.Output);

        var queues = (await BrokerManagementApi.Instance!.QueuesAsync(broker.VirtualHost)).EnumerateArray()
            .ToDictionary(q => q.GetProperty("name").GetString()!, q => q.GetProperty("type").GetString());
        Assert.That(queues, Is.EqualTo(new Dictionary<string, string?> { ["orchestrator.tasks"] = existing }),
            "the queue is left as it was, and the bus never started (it would have made its other queues)");
    }
}
