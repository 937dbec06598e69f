using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// Mixed fleet (issue 19): our agent process serving the original OpenHVX controller. The test plays that controller on a real
/// RabbitMQ: it publishes its task fixtures (Tests/fixtures/original-openhvx) as its <c>publishTask</c> does, and reads what it
/// reads, the queue <c>results.controller</c> bound to <c>results</c> with <c>task.#</c>, and the heartbeats. The rest of our
/// stack runs beside it (our orchestrator sets aside the results of tasks it does not know; that is not looked at here).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OriginalControllerTests
{
    // The fixtures' agent id is a valid id of ours, so their bodies go out unchanged.
    private const string AgentId = "HOST-OPENHVX-HYPERV-001";
    // The VM the fixtures name; replaced by a VM the simulated host has where a task must succeed.
    private const string FixtureVmId = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";
    private const string ControllerResults = "results.controller";

    private ProcessStack? _stack;
    private IConnection? _connection;
    private IChannel? _channel;
    private readonly ConcurrentDictionary<Guid, ConcurrentQueue<BasicDeliverEventArgs>> _results = new();
    private readonly ConcurrentDictionary<Guid, int> _started = new();
    private readonly ConcurrentQueue<JsonElement> _heartbeats = new();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // fabric0: the switch the original controller names when a create names none.
        _stack = await ProcessStack.StartAsync(new AgentSpec(AgentId, Environment: new Dictionary<string, string> { ["Agent__Simulated__Switches__0"] = "fabric0" }));
        _connection = await new ConnectionFactory { Uri = new Uri(_stack.Broker.Url) }.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync();

        // The controller's results queue (backend services/amqp.ts connect()): durable, bound with task.#.
        await _channel.QueueDeclareAsync(ControllerResults, durable: true, exclusive: false, autoDelete: false);
        await _channel.QueueBindAsync(ControllerResults, WireTopology.ResultsExchange, "task.#");
        await ConsumeAsync(ControllerResults, args =>
        {
            if (Guid.TryParse(args.RoutingKey.Split('.')[1], out var taskId))
                _results.GetOrAdd(taskId, _ => new()).Enqueue(args);
        });
        // Not the controller's: where our agent's started notes go, to see that it sends them, elsewhere.
        var started = (await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await _channel.QueueBindAsync(started, WireTopology.ResultsExchange, "started.*");
        await ConsumeAsync(started, args => _started.AddOrUpdate(Guid.Parse(args.RoutingKey["started.".Length..]), 1, (_, n) => n + 1));
        var heartbeats = (await _channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await _channel.QueueBindAsync(heartbeats, WireTopology.TelemetryExchange, WireTopology.HeartbeatRoutingKey(AgentId));
        await ConsumeAsync(heartbeats, args => _heartbeats.Enqueue(JsonDocument.Parse(args.Body).RootElement.Clone()));
    }

    private async Task ConsumeAsync(string queue, Action<BasicDeliverEventArgs> received)
    {
        var consumer = new AsyncEventingBasicConsumer(_channel!);
        consumer.ReceivedAsync += (_, args) =>
        {
            // The body's memory is the client's only during the call.
            received(new BasicDeliverEventArgs(args.ConsumerTag, args.DeliveryTag, args.Redelivered, args.Exchange, args.RoutingKey, args.BasicProperties,
                args.Body.ToArray()));
            return Task.CompletedTask;
        };
        await _channel!.BasicConsumeAsync(queue, autoAck: true, consumer);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_channel is not null)
            await _channel.DisposeAsync();
        if (_connection is not null)
            await _connection.DisposeAsync();
        if (_stack is not null)
        {
            if (TestContext.CurrentContext.Result.FailCount > 0)
                await TestContext.Out.WriteLineAsync(_stack.Logs);
            await _stack.DisposeAsync();
        }
    }

    /// <summary>
    /// Publishes a task as the original controller's <c>publishTask</c> does: asserts <c>agent.&lt;agentId&gt;.tasks</c> (durable, no arguments),
    /// binds it to <c>jobs</c> with the bare agent id, and publishes with the fixture sidecar's exchange, routing key and properties.
    /// </summary>
    private async Task<Guid> PublishAsync(string fixture, byte[] body)
    {
        var amqp = OriginalFixtures.Amqp(fixture);
        var exchange = amqp.GetProperty("exchange").GetString()!;
        var routingKey = amqp.GetProperty("routingKey").GetString()!;
        var sidecar = amqp.GetProperty("properties");
        var taskId = Guid.Parse(JsonDocument.Parse(body).RootElement.GetProperty("taskId").GetString()!);
        var queue = WireTopology.AgentQueue(routingKey);
        await _channel!.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: null);
        await _channel.QueueBindAsync(queue, exchange, routingKey);
        var properties = new BasicProperties
        {
            ContentType = sidecar.GetProperty("contentType").GetString(),
            DeliveryMode = (DeliveryModes)sidecar.GetProperty("deliveryMode").GetInt32(),
            // The sidecar's correlation id is the task id; a body whose task id was changed keeps them equal.
            CorrelationId = taskId.ToString(),
        };
        await _channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, body);
        return taskId;
    }

    /// <summary>
    /// The result the controller reads for the task, once it came, and the proof that nothing else for the task came on <c>task.#</c>: the
    /// agent's started note is confirmed by the broker before its script runs, and a queue keeps the order of one channel's messages, so
    /// a note routed to <c>task.#</c> would be in the queue before the result.
    /// </summary>
    private async Task<JsonElement> ResultAsync(Guid taskId, bool ok)
    {
        var key = WireTopology.ResultRoutingKey(taskId);
        var messages = await Eventually.Get(() => Task.FromResult(_results.TryGetValue(taskId, out var queue) ? queue.ToArray() : []),
            m => m.Any(message => message.RoutingKey == key), TimeSpan.FromSeconds(60), $"the result of task {taskId} on {key}");
        Assert.That(messages.Select(m => m.RoutingKey).ToArray(), Is.EqualTo(new[] { key }), $"the result alone on task.# for task {taskId}");
        var message = messages[0];
        var result = JsonDocument.Parse(message.Body).RootElement.Clone();
        Assert.That(message.BasicProperties.CorrelationId, Is.EqualTo(taskId.ToString()));
        Assert.That(result.ValueKind, Is.EqualTo(JsonValueKind.Object));
        Assert.That((result.GetProperty("taskId").GetString(), result.GetProperty("agentId").GetString(), result.GetProperty("ok").GetBoolean()),
            Is.EqualTo((taskId.ToString(), AgentId, ok)), result.ToString());
        Assert.That(result.GetProperty("error").ValueKind, Is.EqualTo(JsonValueKind.String), "the original controller stores error as a string: " + result);
        Assert.That(DateTimeOffset.TryParse(result.GetProperty("finishedAt").GetString(), out _), Is.True);
        if (ok)
            Assert.That(result.GetProperty("error").GetString(), Is.Empty);
        else
            Assert.That(result.GetProperty("error").GetString(), Is.Not.Empty);
        return result;
    }

    private static byte[] WithVm(byte[] body, string vmId) => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace(FixtureVmId, vmId));

    [Test]
    public async Task A_create_power_and_delete_of_the_original_controller_each_come_back_as_one_result_on_task_hash_naming_the_vm()
    {
        // No fixture of the current controller creates a VM this agent can build (it sends an iSCSI disk): this is an older controller's
        // create, made from the fixture with its image path (backend@67aeba1 enrich: imageId -> imagePath) in place of the disk.
        var create = JsonNode.Parse(OriginalFixtures.Body("controller-task-vm.create"))!.AsObject();
        var data = create["data"]!.AsObject();
        foreach (var iscsi in new[] { "diskId", "storageId", "iqn", "portal" })
            data.Remove(iscsi);
        data["imagePath"] = @"C:\OpenHVX\images\" + DemoCatalog.Images[1].File;
        // A task id of its own: the agent runs a task id once (the fixture's is the iSCSI create's, below).
        var newId = Guid.NewGuid().ToString();
        create["taskId"] = newId;
        create["correlationId"] = newId;
        var createId = await PublishAsync("controller-task-vm.create", Encoding.UTF8.GetBytes(create.ToJsonString()));

        var created = await ResultAsync(createId, ok: true);
        var vm = created.GetProperty("result").GetProperty("vm");
        var vmId = vm.GetProperty("guid").GetString()!;
        Assert.That((Guid.TryParse(vmId, out _), vm.GetProperty("name").GetString()), Is.EqualTo((true, "web01")), created.ToString());

        // Byte for byte but for the VM id. "stop" passes the controller's schema; the original agent refused it, ours shuts the VM down.
        var powerId = await PublishAsync("controller-task-vm.power-stop", WithVm(OriginalFixtures.Body("controller-task-vm.power-stop"), vmId));
        var powered = await ResultAsync(powerId, ok: true);
        Assert.That(powered.GetProperty("result").GetProperty("vm").GetProperty("state").GetString(), Is.EqualTo("Off"), powered.ToString());

        var deleteId = await PublishAsync("controller-task-vm.delete", WithVm(OriginalFixtures.Body("controller-task-vm.delete"), vmId));
        var deleted = (await ResultAsync(deleteId, ok: true)).GetProperty("result").GetProperty("vm");
        Assert.That((deleted.GetProperty("guid").GetString(), deleted.GetProperty("name").GetString()), Is.EqualTo((vmId, "web01")));

        await Eventually.True(() => Task.FromResult(new[] { createId, powerId, deleteId }.All(_started.ContainsKey)), TimeSpan.FromSeconds(10),
            "the agent's started notes, on started.<taskId>");
    }

    [Test]
    public async Task The_current_controllers_iscsi_create_fails_with_a_clear_error_and_is_not_run()
    {
        var taskId = await PublishAsync("controller-task-vm.create", OriginalFixtures.Body("controller-task-vm.create"));

        var result = await ResultAsync(taskId, ok: false);
        Assert.That((result.GetProperty("error").GetString(), result.GetProperty("errorCode").GetString()),
            Is.EqualTo(("iSCSI system disks (iqn) are not supported by this agent", "ERR_INVALID_ARGUMENT")));
        Assert.That(result.TryGetProperty("startedAt", out var startedAt) ? startedAt.ValueKind : JsonValueKind.Null, Is.EqualTo(JsonValueKind.Null), "its script never started");
        Assert.That(_started.ContainsKey(taskId), Is.False);
    }

    [Test]
    public async Task A_power_change_of_a_vm_the_host_lacks_and_an_action_without_script_fail_with_a_string_error()
    {
        var power = await PublishAsync("controller-task-vm.power", OriginalFixtures.Body("controller-task-vm.power"));
        var echo = await PublishAsync("controller-task-echo", OriginalFixtures.Body("controller-task-echo"));

        Assert.That((await ResultAsync(power, ok: false)).GetProperty("error").GetString(), Does.Contain(FixtureVmId));
        Assert.That((await ResultAsync(echo, ok: false)).GetProperty("error").GetString(), Does.Contain("echo"));
    }

    [Test]
    public async Task The_heartbeat_offers_the_original_controllers_capability_for_every_action_the_agent_runs()
    {
        var heartbeat = await Eventually.Get(() => Task.FromResult(_heartbeats.ToArray()), h => h.Length > 0, TimeSpan.FromSeconds(30), "a heartbeat");
        var capabilities = heartbeat[0].GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()!).ToList();
        var scripts = Path.Combine(Path.GetDirectoryName(ServiceProcess.AssemblyOf("HyperVAgent"))!, "Scripts");
        var actions = Directory.GetFiles(scripts, "*.ps1").Select(Path.GetFileNameWithoutExtension).Where(n => !n!.StartsWith('_') && n.Contains('.')).ToList();

        Assert.That(heartbeat[0].GetProperty("agentId").GetString(), Is.EqualTo(AgentId));
        Assert.That(capabilities, Is.SupersetOf(new[] { "inventory", "vm" }));
        Assert.That(actions, Is.Not.Empty);
        Assert.That(capabilities, Is.SupersetOf(actions.Select(a => ActionCapabilities.OriginalName(a!))));
    }
}
