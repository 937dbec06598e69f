using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// An orchestrator started with <c>Orchestrator:Broker:QueueType=quorum</c>: every queue it shares with other orchestrators
/// is a quorum queue (as the broker's management API shows it), the agents' queues and the temporary queues stay classic,
/// and tasks run end to end.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class QuorumQueueTests
{
    private const string AgentId = "agent-q1";
    private ProcessStack? _stack;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        TestBroker.RequireBroker();
        Assume.That(BrokerManagementApi.Instance, Is.Not.Null, "the queue types are read through the broker's management API");
        _stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Broker__QueueType"] = "quorum" }, new AgentSpec(AgentId));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_stack is null)
            return;
        if (TestContext.CurrentContext.Result.FailCount > 0)
            await TestContext.Out.WriteLineAsync(_stack.Logs);
        await _stack.DisposeAsync();
    }

    private sealed record QueueShape(string Name, string Type, bool Durable, bool AutoDelete, bool Exclusive);

    private async Task<Dictionary<string, QueueShape>> QueuesAsync()
        => (await BrokerManagementApi.Instance!.QueuesAsync(_stack!.Broker.VirtualHost)).EnumerateArray()
            .Select(q => new QueueShape(q.GetProperty("name").GetString()!, q.GetProperty("type").GetString()!, q.GetProperty("durable").GetBoolean(),
                q.GetProperty("auto_delete").GetBoolean(), q.TryGetProperty("exclusive", out var exclusive) && exclusive.ValueKind == JsonValueKind.True))
            .ToDictionary(q => q.Name);

    private static BasicProperties AgentJson(string contentType = "application/json")
        => new() { ContentType = contentType, Persistent = true, UserId = "agent." + AgentId };

    [Test]
    public async Task The_shared_queues_are_quorum_queues_and_the_agents_and_temporary_queues_stay_classic()
    {
        // The queues the orchestrator makes only when it sets a message aside: a heartbeat that names another agent than its
        // routing key (refused: _error) and a message of a type nothing consumes (_skipped), both moved by the orchestrator itself.
        await using (var connection = await new ConnectionFactory { Uri = new Uri(_stack!.AgentBrokerUrl(AgentId)) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await channel.BasicPublishAsync(WireTopology.TelemetryExchange, $"heartbeat.{AgentId}", false, AgentJson(),
                JsonSerializer.SerializeToUtf8Bytes(new { agentId = "agent-nobody", ts = DateTimeOffset.UtcNow }));
            await channel.BasicPublishAsync(WireTopology.ResultsExchange, $"task.{Guid.NewGuid()}", false, AgentJson("application/vnd.masstransit+json"),
                JsonSerializer.SerializeToUtf8Bytes(new { messageType = new[] { "urn:message:Nobody:Consumes" }, message = new { taskId = Guid.NewGuid() } }));
        }
        string[] expected =
        [
            "orchestrator.tasks", "orchestrator.results", "orchestrator.heartbeats", "orchestrator.inventory",
            "orchestrator.tasks_error", "orchestrator.results_error", "orchestrator.heartbeats_error", "orchestrator.results_skipped",
        ];
        var queues = await Eventually.Get(QueuesAsync, q => expected.All(q.ContainsKey), TimeSpan.FromSeconds(30), "the shared queues, the set-aside ones included");

        var shared = new Regex(@"\Aorchestrator\.[a-z]+(_error|_skipped)?\z");
        var orchestratorQueues = queues.Values.Where(q => shared.IsMatch(q.Name)).ToList();
        Assert.Multiple(() =>
        {
            foreach (var queue in orchestratorQueues)
                Assert.That(queue, Is.EqualTo(queue with { Type = "quorum", Durable = true, AutoDelete = false, Exclusive = false }), queue.Name);
            Assert.That(orchestratorQueues.Select(q => q.Name), Is.SubsetOf(SharedQueues.Names), "the start-up check covers every shared queue");
            foreach (var name in new[] { $"agent.{AgentId}.tasks", $"agent.{AgentId}.control" })
                Assert.That(queues[name].Type, Is.EqualTo("classic"), name);
            var others = queues.Values.Where(q => !shared.IsMatch(q.Name)).ToList();
            Assert.That(others.Where(q => q.AutoDelete || q.Exclusive), Is.Not.Empty, "the buses' temporary queues");
            Assert.That(others.Where(q => q.Type != "classic"), Is.Empty, "only the shared queues are quorum");
        });
    }

    [Test]
    public async Task A_saga_message_that_cannot_be_read_reaches_the_dead_letters_through_the_quorum_error_queue()
    {
        // MassTransit's own move (not the agent-message one) declares orchestrator.tasks_error as it declares the saga's queue.
        await using (var connection = await new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true };
            await channel.BasicPublishAsync("", WireTopology.TaskSagaQueue, true, properties, "not json"u8.ToArray());
        }
        var letter = await Eventually.Get(async () => (await _stack.DeadLettersAsync()).FirstOrDefault(l => l.GetProperty("body").GetString() == "not json"),
            l => l.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(30), "the unreadable message among the dead letters");
        Assert.That(letter.GetProperty("queue").GetString(), Is.EqualTo(WireTopology.ErrorQueue(WireTopology.TaskSagaQueue)));
        Assert.That((await QueuesAsync())[WireTopology.ErrorQueue(WireTopology.TaskSagaQueue)].Type, Is.EqualTo("quorum"));
    }

    [Test]
    public async Task A_vm_create_runs_end_to_end_on_quorum_queues()
    {
        var response = await _stack!.CreateVmAsync("vm-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForFinalAsync(response.Headers.Location!);
        Assert.That((task.GetProperty("status").GetString(), task.GetProperty("agentId").GetString()), Is.EqualTo(("SUCCESS", AgentId)), task.ToString());
        Assert.That(task.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString(), Does.Match(@"\A[0-9a-fA-F-]{36}\z"));
        Assert.That((await QueuesAsync())["orchestrator.tasks"].Type, Is.EqualTo("quorum"));
    }
}
