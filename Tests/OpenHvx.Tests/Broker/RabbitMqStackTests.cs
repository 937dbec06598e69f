using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Tests.Broker;

/// <summary>Orchestrator and four agents as separate processes over a real RabbitMQ, every one exporting its spans to <see cref="_otlp"/>.</summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed partial class RabbitMqStackTests
{
    private ProcessStack? _stack;
    private OtlpReceiver? _otlp;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _otlp = await OtlpReceiver.StartAsync();
        _stack = await ProcessStack.StartAsync(null, null, _otlp.ExporterEnvironment,
            new AgentSpec("agent-large", LogicalProcessors: 64, MemoryMB: 262144, WithoutVmCreate: true),
            new AgentSpec("agent-medium", LogicalProcessors: 32, MemoryMB: 131072),
            // Small in every dimension, so the medium agent keeps the better score after the other tests' VMs.
            new AgentSpec("agent-small", LogicalProcessors: 8, MemoryMB: 16384,
                Environment: new Dictionary<string, string> { ["Agent__Simulated__StorageMB"] = "204800" }),
            // Creates wait in Set-VMProcessor, after New-VM (the VM is on the host when a cancel comes). Draining: only a task pinned
            // to it goes there, so the other tests' elections never meet it.
            new AgentSpec(SlowAgent, Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__Set-VMProcessor"] = "120000" }));
        var drain = await _stack.Api.PatchAsJsonAsync($"/api/v1/admin/agents/{SlowAgent}", new { status = "draining" });
        Assert.That(drain.StatusCode, Is.EqualTo(HttpStatusCode.OK), await drain.Content.ReadAsStringAsync());
    }

    private const string SlowAgent = "agent-slow";

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_stack is not null)
        {
            if (TestContext.CurrentContext.Result.FailCount > 0)
                await TestContext.Out.WriteLineAsync(_stack.Logs);
            await _stack.DisposeAsync();
        }
        // After the services, whose last exports come as they stop.
        if (_otlp is not null)
            await _otlp.DisposeAsync();
    }

    private static string UniqueName() => "vm-" + Guid.NewGuid().ToString("N")[..8];

    [Test]
    public async Task The_wire_topology_is_declared_and_durable()
    {
        var exchanges = (await _stack!.Broker.ExchangesAsync()).EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => (Type: e.GetProperty("type").GetString(), Durable: e.GetProperty("durable").GetBoolean()));
        Assert.That(exchanges["jobs"], Is.EqualTo(("direct", true)));
        Assert.That(exchanges["results"], Is.EqualTo(("topic", true)));
        Assert.That(exchanges["agent.telemetry"], Is.EqualTo(("topic", true)));
        Assert.That(exchanges["task.events"], Is.EqualTo(("topic", true)));
        Assert.That(exchanges["resource.events"], Is.EqualTo(("topic", true)));

        var queues = (await _stack!.Broker.QueuesAsync()).EnumerateArray().ToDictionary(q => q.GetProperty("name").GetString()!);
        foreach (var queue in new[] { "agent.agent-medium.tasks", "agent.agent-small.tasks", "orchestrator.results", "orchestrator.heartbeats", "orchestrator.inventory" })
        {
            Assert.That(queues.ContainsKey(queue), Is.True, queue);
            Assert.That(queues[queue].GetProperty("durable").GetBoolean(), Is.True, queue);
        }
        Assert.That(queues["agent.agent-medium.tasks"].GetProperty("arguments").EnumerateArray().Count(), Is.Zero);

        var bindings = (await _stack!.Broker.BindingsAsync()).EnumerateArray()
            .Select(b => (Source: b.GetProperty("source_name").GetString(), Destination: b.GetProperty("destination_name").GetString(), Key: b.GetProperty("routing_key").GetString()))
            .ToList();
        // MassTransit puts an exchange named like the queue between the source exchange and the queue.
        Assert.That(bindings, Does.Contain(("jobs", "agent.agent-medium.tasks", "agent.agent-medium")));
        Assert.That(bindings, Does.Contain(("results", "orchestrator.results", "task.#")));
        Assert.That(bindings, Does.Contain(("agent.telemetry", "orchestrator.heartbeats", "heartbeat.*")));
        Assert.That(bindings, Does.Contain(("agent.telemetry", "orchestrator.inventory", "inventory.*")));
    }

    [Test]
    public async Task Vm_create_goes_to_the_capable_agent_with_the_most_free_capacity()
    {
        var response = await _stack!.CreateVmAsync(UniqueName());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());

        var task = await _stack!.WaitForFinalAsync(response.Headers.Location!);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        // agent-large has the most capacity but no vm.create script; agent-medium has more than agent-small.
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo("agent-medium"));
        var reasons = task.GetProperty("placement").GetProperty("candidates").EnumerateArray()
            .ToDictionary(c => c.GetProperty("agentId").GetString()!, c => c.GetProperty("reason").GetString());
        Assert.That(reasons["agent-large"], Does.Contain("lacks capability vm.create"));
        Assert.That(reasons["agent-small"], Is.Null);
    }

    [Test]
    public async Task Agent_messages_are_plain_persistent_json_with_the_task_id_as_correlation_id()
    {
        var factory = new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // Copies of what crosses the wire: the task (jobs), its result (results) and heartbeats (agent.telemetry).
        var copies = new Dictionary<string, string>();
        foreach (var (exchange, key) in new[] { ("jobs", "agent.agent-medium"), ("results", "task.*"), ("agent.telemetry", "heartbeat.agent-medium") })
        {
            var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(queue, exchange, key);
            copies[exchange] = queue;
        }

        var response = await _stack!.CreateVmAsync(UniqueName());
        var taskId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString();
        await _stack!.WaitForFinalAsync(response.Headers.Location!);

        async Task<(JsonElement Body, IReadOnlyBasicProperties Properties)> NextAsync(string exchange)
        {
            var message = await Eventually.Get(() => channel.BasicGetAsync(copies[exchange], autoAck: true), m => m is not null, because: $"a copy from {exchange}");
            return (JsonDocument.Parse(message!.Body).RootElement.Clone(), message.BasicProperties);
        }

        var (task, taskProperties) = await NextAsync("jobs");
        Assert.That(task.EnumerateObject().Select(p => p.Name), Is.SupersetOf(new[] { "taskId", "tenantId", "agentId", "action", "data", "correlationId" }));
        Assert.That(task.TryGetProperty("message", out _) || task.TryGetProperty("messageType", out _), Is.False, "no MassTransit envelope");
        Assert.That((task.GetProperty("taskId").GetString(), taskProperties.CorrelationId, taskProperties.Persistent), Is.EqualTo((taskId, taskId, true)));
        Assert.That(taskProperties.ContentType, Is.EqualTo("application/json"));

        var (result, resultProperties) = await NextAsync("results");
        Assert.That(result.EnumerateObject().Select(p => p.Name), Is.SupersetOf(new[] { "taskId", "agentId", "ok", "result", "error", "finishedAt" }));
        Assert.That((result.GetProperty("taskId").GetString(), result.GetProperty("ok").GetBoolean(), resultProperties.CorrelationId, resultProperties.Persistent),
            Is.EqualTo((taskId, true, taskId, true)));
        Assert.That((resultProperties.UserId, resultProperties.ContentType), Is.EqualTo(("agent.agent-medium", "application/json")), "the agent's broker user as user_id");

        var (heartbeat, heartbeatProperties) = await NextAsync("agent.telemetry");
        Assert.That(heartbeatProperties.UserId, Is.EqualTo("agent.agent-medium"));
        Assert.That(heartbeat.EnumerateObject().Select(p => p.Name), Is.SupersetOf(new[] { "version", "agentId", "ts", "host", "capabilities", "capacity", "free", "logicalProcessors", "datastores" }));
        Assert.That(heartbeat.GetProperty("logicalProcessors").GetInt32(), Is.EqualTo(32));
    }

    [Test]
    public async Task Edit_power_and_delete_run_over_the_broker_on_the_agent_hosting_the_vm()
    {
        var created = await _stack!.WaitForFinalAsync((await _stack.CreateVmAsync(UniqueName())).Headers.Location!);
        var vmId = created.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString();
        var host = created.GetProperty("agentId").GetString();

        foreach (var (action, data) in new (string, object)[] { ("vm.edit", new { cpu = 3 }), ("vm.power", new { state = "stop" }), ("vm.delete", new { }) })
        {
            var response = await _stack.Api.PostAsJsonAsync("/api/v1/admin/tasks",
                new { tenantId = "test1", action, target = new { kind = "vm", refId = vmId }, data });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
            var task = await _stack.WaitForFinalAsync(response.Headers.Location!);
            Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
            Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo(host), $"{action} runs where the VM lives");
        }
        var resources = await _stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()), Does.Not.Contain(vmId));
    }

    [Test]
    public async Task Inventory_reaches_the_registry_in_the_canonical_shape()
    {
        var agent = await Eventually.Get(() => _stack!.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents/agent-small"),
            a => a.TryGetProperty("inventory", out _), because: "an inventory arrives");
        var inventory = agent.GetProperty("inventory");
        Assert.That(inventory.GetProperty("schemaVersion").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(inventory.GetProperty("vms").ValueKind, Is.EqualTo(JsonValueKind.Array));
        Assert.That(inventory.GetProperty("host").GetProperty("cpu").GetProperty("threads").GetInt32(), Is.EqualTo(8));
    }

    [Test]
    public async Task Poison_messages_on_the_results_queue_are_set_aside_and_the_next_result_is_processed()
    {
        var notJson = Guid.NewGuid();
        var phantom = Guid.NewGuid();
        // As agent-small itself (its broker user and user_id), so only the message is wrong, not its sender.
        var factory = new ConnectionFactory { Uri = new Uri(_stack!.AgentBrokerUrl("agent-small")) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var properties = new BasicProperties { ContentType = "application/json", Persistent = true, UserId = "agent.agent-small" };
            await channel.BasicPublishAsync("results", $"task.{notJson}", false, properties, Encoding.UTF8.GetBytes("this is not json {"));
            var unknown = JsonSerializer.SerializeToUtf8Bytes(new { taskId = phantom, agentId = "agent-small", ok = true, result = new { vm = new { guid = Guid.NewGuid(), name = "ghost" } }, finishedAt = DateTimeOffset.UtcNow });
            await channel.BasicPublishAsync("results", $"task.{phantom}", false, properties, unknown);
        }

        var response = await _stack!.CreateVmAsync(UniqueName());
        var task = await _stack!.WaitForFinalAsync(response.Headers.Location!);

        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        // Both went through orchestrator.results_error into the dead letters, with their sender and reason.
        var garbage = (await _stack.WaitForDeadLettersAsync(notJson)).Single();
        Assert.That((garbage.GetProperty("body").GetString(), garbage.GetProperty("senderUser").GetString()), Is.EqualTo(("this is not json {", "agent.agent-small")));
        var ghost = (await _stack.WaitForDeadLettersAsync(phantom)).Single();
        Assert.That(ghost.GetProperty("reason").GetString(), Does.Contain($"No task {phantom}"));
        var tasks = await _stack!.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tasks?limit=500");
        Assert.That(tasks.GetProperty("items").EnumerateArray().Any(t => t.GetProperty("data").TryGetProperty("name", out var n) && n.GetString() == "ghost"), Is.False);
    }

    [Test]
    public async Task A_task_events_subscriber_receives_the_transitions_in_order()
    {
        var received = new ConcurrentQueue<JsonElement>();
        var factory = new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync(queue: "", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, "task.events", "test1.vm.create.*");
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            received.Enqueue(JsonDocument.Parse(delivery.Body).RootElement.Clone());
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);

        var response = await _stack!.CreateVmAsync(UniqueName());
        var taskId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString();
        await _stack!.WaitForFinalAsync(response.Headers.Location!);

        var events = await Eventually.Get(() => Task.FromResult(received.Where(e => e.GetProperty("taskId").GetString() == taskId).ToList()),
            list => list.Any(e => e.GetProperty("status").GetString() == "SUCCESS"), because: "the SUCCESS event arrives");
        var stamps = events.Select(e => e.GetProperty("timestamp").GetDateTimeOffset()).ToList();
        Assert.That(stamps, Is.Ordered, "events arrive in the order of their timestamps");
        Assert.That(events.Select(e => e.GetProperty("to").GetString()),
            Is.EqualTo(new[] { "Validating", "Electing", "Enriching", "HoldingQuota", "Dispatching", "AwaitingResult", "AwaitingResult", "Succeeded" }));
        Assert.That(events.Select(e => e.GetProperty("status").GetString()).Distinct(), Is.EqualTo(new[] { "pending", "sent", "running", "SUCCESS" }));
    }

    [Test]
    public async Task A_vm_deleted_out_of_band_is_reported_gone_on_resource_events_after_inventory_refresh()
    {
        var received = new ConcurrentQueue<(string RoutingKey, JsonElement Body)>();
        var factory = new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync(queue: "", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, "resource.events", "test1.vm.*");
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            received.Enqueue((delivery.RoutingKey, JsonDocument.Parse(delivery.Body).RootElement.Clone()));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        var created = await _stack!.WaitForFinalAsync((await _stack!.CreateVmAsync(UniqueName())).Headers.Location!);
        var vmId = created.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!;
        var agentId = created.GetProperty("agentId").GetString()!;
        var usedBefore = (await _stack!.QuotaAsync()).GetProperty("vmCount").GetProperty("used").GetInt64();
        var charged = (await _stack!.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources")).EnumerateArray()
            .Single(r => r.GetProperty("resourceId").GetString() == vmId).GetProperty("charge");

        // Behind the platform's back: the simulated host's record of the VM is removed.
        File.Delete(Path.Combine(_stack!.AgentDataPath(agentId), "sim", "vms", vmId + ".json"));
        var refresh = await _stack!.Api.PostAsJsonAsync("/api/v1/admin/tasks",
            new { tenantId = "test1", action = "inventory.refresh", target = new { kind = "host", agentId }, data = new { } });
        Assert.That(refresh.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await refresh.Content.ReadAsStringAsync());
        Assert.That((await _stack!.WaitForFinalAsync(refresh.Headers.Location!)).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));

        var (routingKey, body) = await Eventually.Get(() => Task.FromResult(received.FirstOrDefault(e => e.Body.GetProperty("resourceId").GetString() == vmId)),
            e => e.RoutingKey is not null, because: "the gone event arrives");
        Assert.That(routingKey, Is.EqualTo("test1.vm.gone"));
        Assert.That((body.GetProperty("tenantId").GetString(), body.GetProperty("change").GetString(), body.GetProperty("agentId").GetString()),
            Is.EqualTo(("test1", "gone", agentId)), body.ToString());
        Assert.That((body.GetProperty("before").GetProperty("cpu").GetInt64(), body.GetProperty("before").GetProperty("memoryMB").GetInt64()),
            Is.EqualTo((charged.GetProperty("cpu").GetInt64(), charged.GetProperty("memoryMB").GetInt64())), "what it was charged");
        Assert.That((await _stack!.QuotaAsync()).GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(usedBefore - 1), "its charge is released");
    }
    [Test]
    public async Task A_cancel_reaches_the_agent_on_its_control_queue_stops_its_running_create_and_is_published_CANCELED_on_task_events()
    {
        var stack = _stack!;
        Assert.That(await stack.Broker.ConsumersOnAsync($"agent.{SlowAgent}.control"), Is.EqualTo(1), "the agent's broker user consumes its control queue");
        var bindings = await stack.Broker.BindingsAsync();
        Assert.That(bindings.EnumerateArray().Any(b => b.GetProperty("source_name").GetString() == "jobs"
            && b.GetProperty("destination_name").GetString() == $"agent.{SlowAgent}.control" && b.GetProperty("routing_key").GetString() == $"agent.{SlowAgent}.control"),
            Is.True, "bound to jobs by the orchestrator");

        // A subscriber of task.events, as an operator's system binds it.
        await using var connection = await new ConnectionFactory { Uri = new Uri(stack.Broker.Url) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var events = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(events, "task.events", "test1.vm.create.CANCELED");
        static (long Used, long Held)[] Lines(JsonElement quota)
            => [.. new[] { "cpu", "memoryMB", "storageMB", "vmCount" }.Select(l => (quota.GetProperty(l).GetProperty("used").GetInt64(), quota.GetProperty(l).GetProperty("held").GetInt64()))];
        var before = Lines(await stack.QuotaAsync());

        var name = UniqueName();
        var created = await stack.Api.PostAsJsonAsync("/api/v1/admin/tasks",
            new { tenantId = "test1", action = "vm.create", target = new { agentId = SlowAgent }, data = new { name } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await created.Content.ReadAsStringAsync());
        var location = created.Headers.Location!;
        await stack.WaitForStatusAsync(location, "running");
        var vms = Path.Combine(stack.AgentDataPath(SlowAgent), "sim", "vms");
        int VmsNamed() => Directory.Exists(vms) ? Directory.GetFiles(vms, "*.json").Count(f => File.ReadAllText(f).Contains($"\"test1.{name}\"")) : 0;
        await Eventually.True(() => Task.FromResult(VmsNamed() == 1), TimeSpan.FromSeconds(30), "the VM is built");

        var response = await stack.Api.PostAsync(location + "/cancel", null);
        Assert.That(response.StatusCode, Is.AnyOf(HttpStatusCode.OK, HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await stack.WaitForStatusAsync(location, "CANCELED", "SUCCESS", "FAILED");

        Assert.That((task.GetProperty("status").GetString(), task.GetProperty("error").GetProperty("code").GetString()), Is.EqualTo(("CANCELED", "ERR_CANCELED")), task.ToString());
        Assert.That(task.GetProperty("startedAt").ValueKind, Is.Not.EqualTo(JsonValueKind.Null), "it was running");
        Assert.That(VmsNamed(), Is.Zero, "the VM is gone from the host");
        Assert.That(stack.Agents.Single(a => a.Name == SlowAgent).Output, Does.Contain("was canceled while it ran; its script was stopped"));
        Assert.That(Lines(await stack.QuotaAsync()), Is.EqualTo(before), "nothing charged, nothing held");

        var message = await Eventually.Get(() => channel.BasicGetAsync(events, autoAck: true), m => m is not null, because: "the CANCELED event is published");
        var change = JsonDocument.Parse(message!.Body).RootElement;
        Assert.That(message.RoutingKey, Is.EqualTo("test1.vm.create.CANCELED"));
        Assert.That((change.GetProperty("taskId").GetString(), change.GetProperty("from").GetString(), change.GetProperty("to").GetString(),
            change.GetProperty("status").GetString(), change.GetProperty("errorCode").GetString()),
            Is.EqualTo((task.GetProperty("taskId").GetString(), "Canceling", "Canceled", "CANCELED", "ERR_CANCELED")));
    }
}

[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class RabbitMqNoAgentTests
{
    [Test]
    public async Task A_task_submitted_when_no_agent_is_fresh_is_rejected_with_ERR_NO_ELIGIBLE_AGENT()
    {
        await using var stack = await ProcessStack.StartAsync();

        var response = await stack.CreateVmAsync("lonely");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), await response.Content.ReadAsStringAsync());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo("ERR_NO_ELIGIBLE_AGENT"));
    }
}
