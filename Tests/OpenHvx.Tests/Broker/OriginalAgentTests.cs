using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// Our orchestrator drives an agent of the original OpenHVX generation over RabbitMQ. The test plays that agent as its Go code does
/// (OpenHVX/openhvx-agent@a65c895: its task queue declared and bound with the bare agent id, prefetch 5) and sends the original
/// generation's messages byte for byte from Tests/fixtures/original-openhvx; only a result's task id is replaced by the task this run
/// created.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OriginalAgentTests
{
    private const string ImagesPath = @"D:\DATA\openhvx\IMAGES";
    private ProcessStack _stack = null!;
    private IConnection _connection = null!;
    private IChannel _channel = null!;
    private readonly ConcurrentQueue<(string RoutingKey, JsonElement Body)> _tasks = new();
    private JsonValueKind _capacityBeforeInventory;
    private HttpResponseMessage _beforeInventory = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _stack = await ProcessStack.StartAsync(new Dictionary<string, string>
        {
            // The Go agent sends no AMQP user_id: it is named, and broker identity stays required of every other agent.
            ["Orchestrator__Agents__Original__AgentIds__0"] = OriginalFixtures.AgentId,
            ["Orchestrator__Agents__Original__ImagesPath"] = ImagesPath,
            // The fixture heartbeat is replayed as sent; the original agent states no interval, so this one applies.
            ["Orchestrator__Agents__HeartbeatInterval"] = "00:10:00",
        });
        _connection = await new ConnectionFactory { Uri = new Uri(_stack.Broker.Url) }.CreateConnectionAsync();
        _channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

        // consumer.go: QueueDeclare(agent.<id>.tasks, durable, no arguments), QueueBind(queue, <agentId>, "jobs"), Qos(5).
        var queue = $"agent.{OriginalFixtures.AgentId}.tasks";
        await _channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: null);
        await _channel.QueueBindAsync(queue, "jobs", OriginalFixtures.AgentId);
        await _channel.BasicQosAsync(0, 5, false);
        var consumer = new AsyncEventingBasicConsumer(_channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            _tasks.Enqueue((delivery.RoutingKey, JsonDocument.Parse(delivery.Body).RootElement.Clone()));
            await _channel.BasicAckAsync(delivery.DeliveryTag, false);
        };
        await _channel.BasicConsumeAsync(queue, autoAck: false, consumerTag: "agent-" + OriginalFixtures.AgentId, consumer);

        // As the Go agent starts: a heartbeat (no capacity in it), then its first full inventory, then the next heartbeat, which the
        // inventory gives a capacity. The same fixture bytes twice: its ts is fixed.
        await OriginalFixtures.PublishAsync(_channel, "agent-heartbeat", OriginalFixtures.Body("agent-heartbeat"));
        var registered = await Eventually.Get(async () => await _stack.Api.GetAsync($"/api/v1/admin/agents/{OriginalFixtures.AgentId}"),
            r => r.IsSuccessStatusCode, TimeSpan.FromSeconds(30), "the heartbeat registers the agent");
        _capacityBeforeInventory = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("capacity").ValueKind;
        _beforeInventory = await _stack.Api.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name = "too-early" } });
        await OriginalFixtures.PublishAsync(_channel, "agent-inventory-full", OriginalFixtures.Body("agent-inventory-full"));
        await Eventually.True(async () => (await AgentAsync()).TryGetProperty("inventory", out _), TimeSpan.FromSeconds(30), "the inventory is recorded");
        await OriginalFixtures.PublishAsync(_channel, "agent-heartbeat", OriginalFixtures.Body("agent-heartbeat"));
        await _stack.WaitForAgentsAsync(OriginalFixtures.AgentId);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (TestContext.CurrentContext.Result.FailCount > 0)
            await TestContext.Out.WriteLineAsync(_stack.Logs);
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
        await _stack.DisposeAsync();
    }

    private async Task<JsonElement> AgentAsync() => await _stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/admin/agents/{OriginalFixtures.AgentId}");

    private async Task<(string RoutingKey, JsonElement Body)> TaskDeliveredAsync(Guid taskId)
        => await Eventually.Get(() => Task.FromResult(_tasks.FirstOrDefault(t => t.Body.GetProperty("taskId").GetGuid() == taskId)),
            t => t.RoutingKey is not null, TimeSpan.FromSeconds(30), $"task {taskId} reaches the original agent's queue");

    private async Task<(Guid TaskId, Uri Location)> SubmitAsync(object request)
    {
        var response = await _stack.Api.PostAsJsonAsync("/api/v1/admin/tasks", request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("taskId").GetGuid(), response.Headers.Location!);
    }

    /// <summary>The fixture result with its task id replaced by <paramref name="taskId"/>, published as the Go agent publishes it.</summary>
    private Task AnswerAsync(string fixture, Guid taskId)
    {
        var original = OriginalFixtures.TaskIdOf(fixture);
        return OriginalFixtures.PublishAsync(_channel, fixture, OriginalFixtures.Body(fixture, original, taskId.ToString()), taskId.ToString(), "task." + taskId);
    }

    [Test]
    public async Task The_original_agent_is_registered_with_the_capacity_of_its_inventory()
    {
        Assert.That(_capacityBeforeInventory, Is.EqualTo(JsonValueKind.Null), "no capacity before an inventory gave one");
        Assert.That(_beforeInventory.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "not elected before its first inventory");
        var rejected = await _beforeInventory.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(rejected.GetProperty("code").GetString(), Is.EqualTo("ERR_NO_ELIGIBLE_AGENT"));
        var early = await _stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{rejected.GetProperty("taskId").GetString()}");
        Assert.That(early.GetProperty("placement").GetProperty("candidates")[0].GetProperty("reason").GetString(), Is.EqualTo("reported no capacity"));
        var agent = await AgentAsync();
        Assert.That(agent.GetProperty("generation").GetString(), Is.EqualTo("original"));
        Assert.That(agent.GetProperty("online").GetBoolean(), Is.True);
        // host.cpu.threads 20 x the default overcommit 4; memoryMb; the "vm" datastore's bytes in MiB.
        var capacity = agent.GetProperty("capacity");
        Assert.That(capacity.GetProperty("cpu").GetInt64(), Is.EqualTo(80));
        Assert.That(capacity.GetProperty("memoryMB").GetInt64(), Is.EqualTo(131072));
        Assert.That(capacity.GetProperty("storageMB").GetInt64(), Is.EqualTo(1000203087872 / (1024 * 1024)));
        Assert.That(agent.GetProperty("free").GetProperty("storageMB").GetInt64(), Is.EqualTo(734003200000 / (1024 * 1024)));
        Assert.That(agent.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()), Does.Contain("inventory").And.Contain("vm.create"));
        var listed = (await _stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents")).EnumerateArray()
            .Single(a => a.GetProperty("agentId").GetString() == OriginalFixtures.AgentId);
        Assert.That(listed.GetProperty("generation").GetString(), Is.EqualTo("original"));
    }

    /// <summary>What creating "web01" on the original agent saw; done once, by the first test that needs the VM.</summary>
    private sealed record Web01Creation(Guid TaskId, string RoutingKey, JsonElement Delivered, JsonElement Final, JsonElement QuotaBefore, JsonElement QuotaAfter,
        JsonElement Resources);

    private Task<Web01Creation>? _web01;

    private Task<Web01Creation> Web01Async() => _web01 ??= CreateWeb01Async();

    private async Task<Web01Creation> CreateWeb01Async()
    {
        var before = await _stack.QuotaAsync();
        // The fixture result built "web01" with 2 vCPU and 2 GB, as asked here.
        var (taskId, location) = await SubmitAsync(new
        {
            tenantId = "test1", action = "vm.create",
            data = new { name = "web01", cpu = 2, ram = "2GB", cloudInit = new { sshAuthorizedKeys = new[] { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly user@example" } } },
        });
        var (routingKey, task) = await TaskDeliveredAsync(taskId);
        await AnswerAsync("agent-result-vm.create-ok", taskId);
        var done = await _stack.WaitForFinalAsync(location);
        return new Web01Creation(taskId, routingKey, task, done, before, await _stack.QuotaAsync(),
            await _stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources"));
    }

    [Test]
    public async Task A_vm_create_reaches_the_original_agents_queue_in_its_terms_and_its_result_links_the_vm_and_commits_the_quota()
    {
        var created = await Web01Async();

        Assert.That(created.RoutingKey, Is.EqualTo($"agent.{OriginalFixtures.AgentId}"), "sent on our key, which the orchestrator bound to the agent's own queue");
        var task = created.Delivered;
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo(OriginalFixtures.AgentId));
        Assert.That(task.GetProperty("correlationId").GetString(), Is.EqualTo(created.TaskId.ToString()));
        var data = task.GetProperty("data");
        Assert.That(data.GetProperty("name").GetString(), Is.EqualTo("web01"));
        Assert.That(data.GetProperty("ram").GetString(), Is.EqualTo("2048MB"), "vm.create.ps1 throws without ram");
        Assert.That(data.GetProperty("imagePath").GetString(), Does.StartWith(ImagesPath + "\\").And.EndWith(".vhdx"));
        Assert.That(data.GetProperty("cloudInit").GetProperty("ssh_authorized_keys")[0].GetString(), Does.StartWith("ssh-ed25519 "));
        Assert.That(task.TryGetProperty("notAfter", out var notAfter) ? notAfter.ValueKind : JsonValueKind.Null, Is.EqualTo(JsonValueKind.Null),
            "no pickup window for an agent that would not honour it");

        Assert.That(created.Final.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), created.Final.ToString());
        Assert.That(created.Resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()), Does.Contain(OriginalFixtures.VmGuid), "result.vm.guid linked");
        Assert.That(Used(created.QuotaAfter, "vmCount") - Used(created.QuotaBefore, "vmCount"), Is.EqualTo(1));
        Assert.That(Used(created.QuotaAfter, "cpu") - Used(created.QuotaBefore, "cpu"), Is.EqualTo(2));
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
            Assert.That(created.QuotaAfter.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        Assert.That(await _stack.Broker.MessagesInAsync("orchestrator.results_error"), Is.Zero, "the string error \"\" is no reason to set the result aside");
    }

    private static long Used(JsonElement quota, string line) => quota.GetProperty(line).GetProperty("used").GetInt64();

    [Test]
    public async Task A_vm_power_goes_in_the_original_agents_words_and_its_string_error_fails_the_task_with_that_message()
    {
        await EnsureWeb01Async();
        var (taskId, location) = await SubmitAsync(new { tenantId = "test1", action = "vm.power", target = new { kind = "vm", refId = OriginalFixtures.VmGuid }, data = new { state = "turnoff" } });

        var (_, task) = await TaskDeliveredAsync(taskId);
        var data = task.GetProperty("data");
        Assert.That(data.GetProperty("state").GetString(), Is.EqualTo("off"), "the original vm.power.ps1 has no 'turnoff'");
        Assert.That(data.GetProperty("guid").GetString(), Is.EqualTo(OriginalFixtures.VmGuid));
        Assert.That(data.GetProperty("target").GetProperty("refId").GetString(), Is.EqualTo(OriginalFixtures.VmGuid));

        await AnswerAsync("agent-result-vm.power-error", taskId);

        var done = await _stack.WaitForFinalAsync(location);
        Assert.That(done.GetProperty("status").GetString(), Is.EqualTo("FAILED"), done.ToString());
        var error = done.GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("ERR_SCRIPT"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("unsupported state 'stop' (use: on|off|shutdown|restart|pause|resume|save)"));
        Assert.That(await _stack.Broker.MessagesInAsync("orchestrator.results_error"), Is.Zero);
    }

    [Test]
    public async Task A_finished_tasks_placement_on_an_original_agent_counts_until_an_inventory_collected_after_it_shows_the_vm()
    {
        // web01's result says it finished at 20:00:05 (the agent's clock); the fixture inventory was collected at 19:59:58.
        await EnsureWeb01Async();
        // A heartbeat sent after the task finished (only its ts replaced): the capacity it brings is still the older inventory's.
        await HeartbeatAsync(OriginalFixtures.Body("agent-heartbeat", "\"ts\":\"2025-12-23T20:00:00Z\"", "\"ts\":\"2025-12-23T20:00:30Z\""));
        Assert.That((await AgentAsync()).GetProperty("inFlightHolds").GetProperty("cpu").GetInt64(), Is.EqualTo(2), "web01's 2 vCPUs still held");

        // The next full inventory, collected after the task (only its collectedAt replaced), shows the VM: the placement goes.
        // (The original agent stamps after listing, so its list counts as taken Original:InventoryCollectionTime, 60 s, before the stamp.)
        await OriginalFixtures.PublishAsync(_channel, "agent-inventory-full",
            OriginalFixtures.Body("agent-inventory-full", "2025-12-23T19:59:58.1234567Z", "2025-12-23T20:01:30.0000000Z"));
        await Eventually.True(async () => (await AgentAsync()).GetProperty("inventory").GetProperty("agentCollectedAt").GetString() == "2025-12-23T20:01:30.0000000Z",
            TimeSpan.FromSeconds(30), "the newer inventory is recorded");
        await HeartbeatAsync(OriginalFixtures.Body("agent-heartbeat", "\"ts\":\"2025-12-23T20:00:00Z\"", "\"ts\":\"2025-12-23T20:01:00Z\""));
        Assert.That((await AgentAsync()).GetProperty("inFlightHolds").GetProperty("cpu").GetInt64(), Is.Zero);
    }

    /// <summary>Publishes a heartbeat of the original agent and waits until the orchestrator recorded it.</summary>
    private async Task HeartbeatAsync(byte[] body)
    {
        var before = (await AgentAsync()).GetProperty("lastHeartbeatAt").GetDateTimeOffset();
        await OriginalFixtures.PublishAsync(_channel, "agent-heartbeat", body);
        await Eventually.True(async () => (await AgentAsync()).GetProperty("lastHeartbeatAt").GetDateTimeOffset() > before, TimeSpan.FromSeconds(30),
            "the heartbeat is recorded");
    }

    [Test]
    public async Task A_heartbeat_without_user_id_naming_an_agent_not_listed_as_original_is_refused()
    {
        var body = OriginalFixtures.Body("agent-heartbeat", OriginalFixtures.AgentId, "HOST-NOT-LISTED");
        var errorsBefore = await _stack.Broker.MessagesInAsync("orchestrator.heartbeats_error");

        await OriginalFixtures.PublishAsync(_channel, "agent-heartbeat", body, routingKey: "heartbeat.HOST-NOT-LISTED");

        await Eventually.True(async () => await _stack.Broker.MessagesInAsync("orchestrator.heartbeats_error") > errorsBefore, TimeSpan.FromSeconds(30),
            "the heartbeat is set aside");
        var agent = await _stack.Api.GetAsync("/api/v1/admin/agents/HOST-NOT-LISTED");
        Assert.That(agent.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task An_inventory_naming_a_listed_original_agent_on_another_agents_key_is_refused()
    {
        // Any agent's broker user may publish inventory.<its own id>: without the key check, one could empty a listed agent's VM list.
        var errorsBefore = await _stack.Broker.MessagesInAsync("orchestrator.inventory_error");
        var collectedBefore = (await AgentAsync()).GetProperty("inventory").GetProperty("collectedAt").GetString();
        var body = OriginalFixtures.Body("agent-inventory-full", "2025-12-23T19:59:58.1234567Z", "2030-01-01T00:00:00.0000000Z");

        await OriginalFixtures.PublishAsync(_channel, "agent-inventory-full", body, routingKey: "inventory.agent-b");

        await Eventually.True(async () => await _stack.Broker.MessagesInAsync("orchestrator.inventory_error") > errorsBefore, TimeSpan.FromSeconds(30),
            "the inventory is set aside");
        Assert.That((await AgentAsync()).GetProperty("inventory").GetProperty("collectedAt").GetString(), Is.EqualTo(collectedBefore));
    }

    [Test]
    public async Task A_vm_power_success_of_the_original_agent_succeeds_the_task()
    {
        await EnsureWeb01Async();
        var (taskId, location) = await SubmitAsync(new { tenantId = "test1", action = "vm.power", target = new { kind = "vm", refId = OriginalFixtures.VmGuid }, data = new { state = "start" } });
        var (_, task) = await TaskDeliveredAsync(taskId);
        Assert.That(task.GetProperty("data").GetProperty("state").GetString(), Is.EqualTo("start"));

        await AnswerAsync("agent-result-vm.power-ok", taskId);

        var done = await _stack.WaitForFinalAsync(location);
        Assert.That(done.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), done.ToString());
        Assert.That(done.GetProperty("result").GetProperty("vm").GetProperty("state").GetString(), Is.EqualTo("Running"));
    }

    [Test]
    public async Task A_light_inventory_is_merged_into_the_full_one_instead_of_replacing_it()
    {
        var freeBefore = (await AgentAsync()).GetProperty("free").GetProperty("memoryMB").GetInt64();
        // The fixture as sent, but for a VM that is off (Hyper-V then assigns it no memory: memoryMb 0 in the light inventory), and
        // collected after any full inventory another test sent (an older light one is ignored).
        var body = Encoding.UTF8.GetString(OriginalFixtures.Body("agent-inventory-light", "\"memoryMb\":2048", "\"memoryMb\":0"))
            .Replace("2025-12-23T20:00:06.5550000Z", "2025-12-23T20:05:00.0000000Z", StringComparison.Ordinal);
        await OriginalFixtures.PublishAsync(_channel, "agent-inventory-light", Encoding.UTF8.GetBytes(body));

        var inventory = await Eventually.Get(async () => (await AgentAsync()).GetProperty("inventory"),
            i => i.GetProperty("vms").EnumerateArray().Any(vm => vm.TryGetProperty("uptimeSec", out _)), TimeSpan.FromSeconds(30), "the light inventory is merged");
        Assert.That(inventory.GetProperty("host").GetProperty("hostname").GetString(), Is.EqualTo("HV-NODE-01"), "the host of the full inventory is kept");
        Assert.That(inventory.GetProperty("datastores").GetArrayLength(), Is.EqualTo(1));
        var vm = inventory.GetProperty("vms").EnumerateArray().Single(v => v.GetProperty("id").GetString() == OriginalFixtures.VmGuid);
        Assert.That(vm.GetProperty("cpu").GetProperty("vcpus").GetInt32(), Is.EqualTo(2), "a null of the light inventory changes nothing");
        Assert.That(vm.GetProperty("memoryMb").GetInt32(), Is.EqualTo(2048), "the size it was given, not what it is assigned while off");
        Assert.That(vm.GetProperty("disks").GetArrayLength(), Is.EqualTo(1), "what only the full inventory knows is kept");
        Assert.That(vm.GetProperty("state").GetString(), Is.EqualTo("Running"));

        await HeartbeatAsync(OriginalFixtures.Body("agent-heartbeat"));
        Assert.That((await AgentAsync()).GetProperty("free").GetProperty("memoryMB").GetInt64(), Is.EqualTo(freeBefore), "an off VM's memory is still counted");
    }

    [Test]
    public async Task A_canceled_task_of_the_original_agent_keeps_what_it_holds_until_the_agents_result_decides()
    {
        await EnsureWeb01Async();
        var (taskId, location) = await SubmitAsync(new { tenantId = "test1", action = "vm.power", target = new { kind = "vm", refId = OriginalFixtures.VmGuid }, data = new { state = "start" } });
        await TaskDeliveredAsync(taskId);

        var cancel = await _stack.Api.PostAsync(location + "/cancel", null);
        Assert.That(cancel.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await cancel.Content.ReadAsStringAsync());
        var canceling = await _stack.Api.GetFromJsonAsync<JsonElement>(location);
        Assert.That(canceling.GetProperty("status").GetString(), Is.EqualTo("canceling"), "the agent may still run it: nothing is given back yet");
        Assert.That(canceling.GetProperty("timeline").EnumerateArray().Select(e => e.GetProperty("note").GetString() ?? ""),
            Has.Some.Contains("cannot stop a task"));

        await AnswerAsync("agent-result-vm.power-ok", taskId);

        var done = await _stack.WaitForFinalAsync(location);
        Assert.That(done.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), "it ran: its result decides");
        // By now anything sent after the cancel's commit would be in the control queue.
        Assert.That(await _stack.Broker.MessagesInAsync($"agent.{OriginalFixtures.AgentId}.control"), Is.Zero, "nothing is sent where no original agent reads");
    }

    /// <summary>The fixtures' VM linked to test1 (created on the original agent once, by whichever test needs it first).</summary>
    private Task EnsureWeb01Async() => Web01Async();
}
