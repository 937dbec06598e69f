using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// Agents on broker users of their own (tools/agent-broker-user.sh): one agent cannot speak for another, neither through the
/// broker (permissions, topic permissions, user_id) nor through the orchestrator (user_id checked against the agent named).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class AgentTrustTests
{
    private const string ResultsError = "orchestrator.results_error";
    private const string HeartbeatsError = "orchestrator.heartbeats_error";
    private ProcessStack? _stack;
    private IConnection? _agentB;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // Every vm.create goes to agent-a (agent-b has no script for it) and runs long enough to be interfered with;
        // agent-a's heartbeats are rare, so a forged one would still show when the registry is read.
        _stack = await ProcessStack.StartAsync(
            new AgentSpec("agent-a", Environment: new Dictionary<string, string>
            {
                ["Agent__Simulated__LatencyMs__New-VM"] = "5000",
                ["Agent__HeartbeatInterval"] = "00:00:30",
            }),
            new AgentSpec("agent-b", WithoutVmCreate: true));
        _agentB = await new ConnectionFactory { Uri = new Uri(_stack.AgentBrokerUrl("agent-b")) }.CreateConnectionAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_agentB is not null)
            await _agentB.DisposeAsync();
        if (_stack is null)
            return;
        if (TestContext.CurrentContext.Result.FailCount > 0)
            await TestContext.Out.WriteLineAsync(_stack.Logs);
        await _stack.DisposeAsync();
    }

    private async Task<(Uri Location, Guid TaskId)> RunningTaskOfAgentAAsync()
    {
        var response = await _stack!.CreateVmAsync("vm-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var task = await _stack.WaitForStatusAsync(response.Headers.Location!, "running");
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo("agent-a"));
        return (response.Headers.Location!, Guid.Parse(task.GetProperty("taskId").GetString()!));
    }

    private static byte[] ForgedResult(Guid taskId) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        taskId,
        agentId = "agent-a",
        ok = false,
        error = new { code = "ERR_FORGED", message = "forged by another agent" },
        finishedAt = DateTimeOffset.UtcNow,
    });

    private static BasicProperties Json(string? userId) => new() { ContentType = "application/json", Persistent = true, UserId = userId };

    private static Task<IChannel> ConfirmingChannelAsync(IConnection connection)
        => connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

    /// <summary>
    /// The forged result (a failure, sent while agent-a still works on the task) must be refused: the task ends with agent-a's
    /// own success (an applied forgery would have failed it first), and the forgery went through the error queue into the
    /// dead letters, naming its sender. Returns that dead letter.
    /// </summary>
    private async Task<JsonElement> AssertRefusedAndTaskCompletedByAgentAAsync(Uri location, Guid taskId, string sender)
    {
        var task = await _stack!.WaitForFinalAsync(location);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo("agent-a"));
        var letter = (await _stack.WaitForDeadLettersAsync(taskId)).Single();
        Assert.That(letter.GetProperty("queue").GetString(), Is.EqualTo(ResultsError));
        Assert.That(letter.GetProperty("reason").GetString(), Does.Contain("needs AMQP user_id agent.agent-a"));
        Assert.That(JsonDocument.Parse(letter.GetProperty("body").GetString()!).RootElement.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("ERR_FORGED"));
        Assert.That(_stack.Orchestrator.Output, Does.Contain($"A result naming agent agent-a came from broker user {sender}, not agent.agent-a; refused"));
        await Eventually.True(async () => await _stack.Broker.MessagesInAsync(ResultsError) == 0, because: ResultsError + " is emptied into the dead letters");
        return letter;
    }

    [Test]
    public async Task A_result_published_by_another_agents_user_is_refused_and_the_real_result_completes_the_task()
    {
        var (location, taskId) = await RunningTaskOfAgentAAsync();

        // agent-b may publish task.* keys on results, with its own user_id only; the body claims agent-a.
        await using (var channel = await ConfirmingChannelAsync(_agentB!))
            await channel.BasicPublishAsync("results", $"task.{taskId}", false, Json("agent.agent-b"), ForgedResult(taskId));

        // The copy reached the error queue (without agent-b's user_id, which the broker would have refused) and names its sender.
        var letter = await AssertRefusedAndTaskCompletedByAgentAAsync(location, taskId, "agent.agent-b");
        Assert.That(letter.GetProperty("senderUser").GetString(), Is.EqualTo("agent.agent-b"));
    }

    [Test]
    public async Task A_result_without_user_id_is_refused_and_the_real_result_completes_the_task()
    {
        var (location, taskId) = await RunningTaskOfAgentAAsync();

        // The orchestrator's own broker user, which may publish anything, sends no user_id.
        await using (var connection = await new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) }.CreateConnectionAsync())
        await using (var channel = await ConfirmingChannelAsync(connection))
            await channel.BasicPublishAsync("results", $"task.{taskId}", false, Json(null), ForgedResult(taskId));

        var letter = await AssertRefusedAndTaskCompletedByAgentAAsync(location, taskId, "(none)");
        Assert.That(letter.GetProperty("senderUser").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task A_message_nothing_consumes_from_an_agent_is_set_aside_once_and_results_keep_flowing()
    {
        const string skipped = "orchestrator.results_skipped";
        var (location, taskId) = await RunningTaskOfAgentAAsync();
        var skippedBefore = await _stack!.Broker.MessagesInAsync(skipped);

        // A MassTransit envelope of a type nobody consumes, with agent-b's own user_id: MassTransit's move to _skipped copied
        // that user_id, which the broker refused, so the message came back to the queue without end, in front of the results.
        var envelope = JsonSerializer.SerializeToUtf8Bytes(new { messageType = new[] { "urn:message:Evil:Nothing" }, message = new { taskId } });
        await using (var channel = await ConfirmingChannelAsync(_agentB!))
        {
            var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true, UserId = "agent.agent-b" };
            await channel.BasicPublishAsync("results", $"task.{taskId}", false, properties, envelope);
        }

        await Eventually.True(async () => await _stack.Broker.MessagesInAsync(skipped) == skippedBefore + 1, because: "it is set aside in " + skipped);
        var task = await _stack.WaitForFinalAsync(location);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), "the real result still completes the task");
        Assert.That(await _stack.Broker.MessagesInAsync("orchestrator.results"), Is.Zero, "nothing is left going round");
        Assert.That(await _stack.Broker.MessagesInAsync(skipped), Is.EqualTo(skippedBefore + 1), "set aside once");
    }

    [Test]
    public async Task A_heartbeat_from_another_agents_user_does_not_change_the_agents_registry_entry()
    {
        var errorsBefore = await _stack!.Broker.MessagesInAsync(HeartbeatsError);
        var forged = JsonSerializer.SerializeToUtf8Bytes(new
        {
            version = "9.9.9",
            agentId = "agent-a",
            ts = DateTimeOffset.UtcNow,
            host = "forged-host",
            capabilities = Array.Empty<string>(),
            capacity = new { cpu = 1, memoryMB = 1, storageMB = 1 },
            free = new { cpu = 1, memoryMB = 1, storageMB = 1 },
            vmCount = 0,
        });

        // The only heartbeat key agent-b may use is its own; the body claims agent-a.
        await using (var channel = await ConfirmingChannelAsync(_agentB!))
            await channel.BasicPublishAsync("agent.telemetry", "heartbeat.agent-b", false, Json("agent.agent-b"), forged);

        var outcome = await Eventually.Get(async () => (
                Errors: await _stack.Broker.MessagesInAsync(HeartbeatsError),
                Agent: await _stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents/agent-a")),
            o => o.Errors > errorsBefore || o.Agent.GetProperty("host").GetString() == "forged-host",
            because: "the forged heartbeat is refused or recorded");
        Assert.That(outcome.Errors, Is.EqualTo(errorsBefore + 1), "the forged heartbeat is in " + HeartbeatsError);
        Assert.That(outcome.Agent.GetProperty("host").GetString(), Is.EqualTo("sim-host"));
        Assert.That(outcome.Agent.GetProperty("version").GetString(), Is.Not.EqualTo("9.9.9"));
        Assert.That(outcome.Agent.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()), Does.Contain("vm.create"));
    }

    /// <summary>Runs a broker operation that must be refused and returns the reply code the broker closed the channel with.</summary>
    private static async Task<ushort> RefusalAsync(IConnection connection, Func<IChannel, Task> operation)
    {
        await using var channel = await ConfirmingChannelAsync(connection);
        try
        {
            await operation(channel);
        }
        catch (Exception ex) when (ex is OperationInterruptedException or PublishException)
        {
            // Refused: the reason is on the closed channel.
        }
        await Eventually.True(() => Task.FromResult(!channel.IsOpen), TimeSpan.FromSeconds(5), "the broker closes the channel");
        return channel.CloseReason!.ReplyCode;
    }

    [Test]
    public async Task The_broker_refuses_another_agents_queue_routing_keys_user_id_and_the_shared_exchanges()
    {
        const ushort AccessRefused = 403, PreconditionFailed = 406;
        var heartbeat = Encoding.UTF8.GetBytes("""{"agentId":"agent-a"}""");
        Assert.Multiple(async () =>
        {
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicConsumeAsync("agent.agent-a.tasks", true, new AsyncDefaultBasicConsumer(c))),
                Is.EqualTo(AccessRefused), "consume agent-a's queue");
            Assert.That(await RefusalAsync(_agentB!, c => c.QueueBindAsync("agent.agent-b.tasks", "jobs", "agent.agent-a")),
                Is.EqualTo(AccessRefused), "bind its own queue to agent-a's tasks");
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicConsumeAsync("agent.agent-a.control", true, new AsyncDefaultBasicConsumer(c))),
                Is.EqualTo(AccessRefused), "consume agent-a's cancels");
            Assert.That(await RefusalAsync(_agentB!, c => c.QueueBindAsync("agent.agent-b.control", "jobs", "agent.agent-a.control")),
                Is.EqualTo(AccessRefused), "bind its own control queue to agent-a's cancels");
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicPublishAsync("agent.telemetry", "heartbeat.agent-a", false, Json("agent.agent-b"), heartbeat).AsTask()),
                Is.EqualTo(AccessRefused), "publish heartbeat.agent-a");
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicPublishAsync("agent.telemetry", "heartbeat.agent-b", false, Json("agent.agent-a"), heartbeat).AsTask()),
                Is.EqualTo(PreconditionFailed), "publish with agent-a's user_id");
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicPublishAsync("jobs", "agent.agent-a", false, Json("agent.agent-b"), heartbeat).AsTask()),
                Is.EqualTo(AccessRefused), "send a task");
            Assert.That(await RefusalAsync(_agentB!, c => c.ExchangeDeleteAsync("results")), Is.EqualTo(AccessRefused), "delete results");
            // Under task.# only results: the original controller takes anything there for a task's result.
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicPublishAsync("results", $"task.{Guid.NewGuid()}.started", false, Json("agent.agent-b"), heartbeat).AsTask()),
                Is.EqualTo(AccessRefused), "publish task.<id>.started");
            Assert.That(await RefusalAsync(_agentB!, c => c.BasicPublishAsync("results", $"started.{Guid.NewGuid()}\n", false, Json("agent.agent-b"), heartbeat).AsTask()),
                Is.EqualTo(AccessRefused), "publish a key with a trailing newline");
        });

        // What it may do: a task.* key on results with its own user_id (the orchestrator then refuses the unknown task), and its started and progress notes.
        var unknown = Guid.NewGuid();
        await using (var channel = await ConfirmingChannelAsync(_agentB!))
        {
            await channel.BasicPublishAsync("results", $"task.{unknown}", false, Json("agent.agent-b"), ForgedResult(unknown));
            await channel.BasicPublishAsync("results", $"started.{Guid.NewGuid()}", false, Json("agent.agent-b"), heartbeat);
            await channel.BasicPublishAsync("results", $"progress.{Guid.NewGuid()}", false, Json("agent.agent-b"), heartbeat);
        }
        await _stack!.WaitForDeadLettersAsync(unknown);
    }

    [Test]
    public async Task A_task_the_agent_cannot_read_goes_to_its_own_error_queue()
    {
        await using (var connection = await new ConnectionFactory { Uri = new Uri(_stack!.Broker.Url) }.CreateConnectionAsync())
        await using (var channel = await ConfirmingChannelAsync(connection))
            await channel.BasicPublishAsync("jobs", "agent.agent-b", false, Json(null), Encoding.UTF8.GetBytes("not json {"));

        await Eventually.True(async () => await _stack.Broker.MessagesInAsync("agent.agent-b.tasks_error") == 1,
            because: "agent-b's user may declare and fill its own error queue");
    }

    [Test]
    public async Task The_script_refuses_to_recreate_an_existing_agent_user_and_keeps_its_password()
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(ServiceProcess.RepositoryRoot, "tools", "agent-broker-user.sh"), "agent-a", _stack!.Broker.VirtualHost })
            info.ArgumentList.Add(arg);
        using var script = Process.Start(info)!;
        var output = await script.StandardOutput.ReadToEndAsync();
        var error = await script.StandardError.ReadToEndAsync();
        await script.WaitForExitAsync();

        Assert.That(script.ExitCode, Is.EqualTo(3), error);
        Assert.That(error, Does.Contain("agent.agent-a exists"));
        Assert.That(output, Is.Empty, "no URL, no password");
        await using var connection = await new ConnectionFactory { Uri = new Uri(_stack.AgentBrokerUrl("agent-a")) }.CreateConnectionAsync();
        Assert.That(connection.IsOpen, Is.True, "agent-a's password still works");
    }
}
