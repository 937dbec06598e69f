using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Contracts;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>Agents killed, stopped and a broker restarted under real processes: nothing is lost, nothing runs twice, quota stays right.</summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class FaultToleranceTests
{
    private static readonly Dictionary<string, string> SlowNewVm = new() { ["Agent__Simulated__LatencyMs__New-VM"] = "60000" };

    private static async Task<(Uri Location, string TaskId)> SubmitAsync(ProcessStack stack, string name)
    {
        var response = await stack.CreateVmAsync(name);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.Headers.Location!, body.GetProperty("taskId").GetString()!);
    }

    private static void AssertNoQuotaHeld(JsonElement quota, long vmsUsed)
    {
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
            Assert.That(quota.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(vmsUsed));
    }

    /// <summary>Every task SUCCESS, each VM charged once (2 vCPUs each by default) and linked once to its task's VM.</summary>
    private static async Task AssertSucceededExactlyOnceAsync(ProcessStack stack, IReadOnlyList<JsonElement> final)
    {
        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"), string.Join("\n", final.Select(t => t.GetProperty("error").ToString())) + "\n" + stack.Logs);
        var quota = await stack.QuotaAsync();
        AssertNoQuotaHeld(quota, vmsUsed: final.Count);
        Assert.That(quota.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(final.Count * 2L));
        var resources = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()),
            Is.EquivalentTo(final.Select(t => t.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString())));
    }

    /// <summary>A VM create that lasts a while (New-VM takes 8 s), with unconfirmed results published again every second.</summary>
    private static AgentSpec SlowAgent(string agentId) => new(agentId, Environment: new Dictionary<string, string>
    {
        ["Agent__Simulated__LatencyMs__New-VM"] = "8000",
        ["Agent__ResultRetryInterval"] = "00:00:01",
    });

    /// <summary>
    /// While the task runs, the agent's broker user loses the right to publish results and its publishing connection is closed,
    /// so that its result cannot reach the broker; waits until the agent's journal holds the result unconfirmed.
    /// </summary>
    private static async Task<IAsyncDisposable> RefuseResultWhileItRunsAsync(ProcessStack stack, string agentId, Uri location, string taskId)
    {
        await stack.WaitForStatusAsync(location, "running");
        var refusal = await BrokerFaults.RefuseResultsAsync(stack.Broker, agentId);
        Assert.That(await BrokerFaults.CloseConnectionsAsync(stack.Broker, WireTopology.AgentBrokerUser(agentId), "openhvx-agent-wire"), Is.EqualTo(1),
            "the agent's publishing connection was closed");
        await Eventually.True(() => Task.FromResult(BrokerFaults.UnconfirmedResults(stack.AgentDataPath(agentId)).Contains(taskId)), TimeSpan.FromSeconds(30),
            "the script finished and its result is held unconfirmed in the journal");
        var task = await stack.Api.GetFromJsonAsync<JsonElement>(location);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("running"), "the orchestrator has not heard the result");
        return refusal;
    }

    [Test]
    public async Task A_result_the_broker_refuses_is_kept_by_the_agent_and_the_task_succeeds_once_it_is_accepted_again()
    {
        var spec = SlowAgent("agent-u");
        await using var stack = await ProcessStack.StartAsync(spec);
        var (location, taskId) = await SubmitAsync(stack, "refused");

        await using (await RefuseResultWhileItRunsAsync(stack, "agent-u", location, taskId))
        {
            await Eventually.True(() => Task.FromResult(stack.Agents[0].Output.Split($"The result of task {taskId} could not be published").Length > 3),
                TimeSpan.FromSeconds(30), "publishing it again failed more than once while refused");
            Assert.That((await stack.Api.GetFromJsonAsync<JsonElement>(location)).GetProperty("status").GetString(), Is.EqualTo("running"));
        }

        var final = await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(60));
        await AssertSucceededExactlyOnceAsync(stack, [final]);
        Assert.That(BrokerFaults.UnconfirmedResults(stack.AgentDataPath("agent-u")), Is.Empty, "confirmed once published");
        Assert.That(await stack.Broker.MessagesInAsync("agent.agent-u.tasks_error"), Is.Zero, "the task's delivery was not failed");
    }

    [Test]
    public async Task A_result_left_unconfirmed_by_a_killed_agent_is_published_when_it_restarts()
    {
        var spec = SlowAgent("agent-v");
        await using var stack = await ProcessStack.StartAsync(spec);
        var (location, taskId) = await SubmitAsync(stack, "unconfirmed");
        var refusal = await RefuseResultWhileItRunsAsync(stack, "agent-v", location, taskId);

        stack.Agents[0].Kill();
        await refusal.DisposeAsync();
        Assert.That((await stack.Api.GetFromJsonAsync<JsonElement>(location)).GetProperty("status").GetString(), Is.EqualTo("running"));
        var restarted = await stack.RestartAgentAsync(spec);

        var final = await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(60));
        await AssertSucceededExactlyOnceAsync(stack, [final]);
        Assert.That(restarted.Output, Does.Contain($"Publishing the unconfirmed result of task {taskId} again"), "the restarted agent published it from its journal");
        Assert.That(BrokerFaults.UnconfirmedResults(stack.AgentDataPath("agent-v")), Is.Empty);
    }

    [Test]
    public async Task A_gracefully_stopped_agent_sends_a_stopping_heartbeat()
    {
        await using var stack = await ProcessStack.StartAsync(new AgentSpec("agent-s"));
        await using var connection = await new ConnectionFactory { Uri = new Uri(stack.Broker.Url) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, WireTopology.TelemetryExchange, WireTopology.HeartbeatRoutingKey("agent-s"));

        var heartbeats = new List<JsonElement>();
        async Task<int> ReceiveAsync()
        {
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
                heartbeats.Add(JsonDocument.Parse(Encoding.UTF8.GetString(message.Body.Span)).RootElement.Clone());
            return heartbeats.Count;
        }
        await Eventually.True(async () => await ReceiveAsync() > 0, because: "an ordinary heartbeat first");

        await stack.Agents[0].TerminateAsync(TimeSpan.FromSeconds(60));

        await ReceiveAsync();
        Assert.That(heartbeats.Select(h => h.GetProperty("status").GetString()), Is.EqualTo(
            Enumerable.Repeat(AgentStatuses.Active, heartbeats.Count - 1).Append(AgentStatuses.Stopping)), stack.Agents[0].Output);
        Assert.That(heartbeats.Select(h => h.GetProperty("intervalSeconds").GetDouble()), Is.All.EqualTo(1.0));
        // The orchestrator takes its word: offline at once, and why.
        var agent = await Eventually.Get(() => stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents/agent-s"),
            a => !a.GetProperty("online").GetBoolean(), TimeSpan.FromSeconds(10), "agent-s is offline");
        Assert.That(agent.GetProperty("offlineReason").GetString(), Does.StartWith("stopped: the agent said it was shutting down"));
    }

    [Test]
    public async Task An_agent_killed_mid_task_fails_the_task_on_its_deadline_and_never_runs_it_twice()
    {
        // Killed while the VM exists but is not started yet: the half-built VM must not stay on the host.
        var spec = new AgentSpec("agent-k", Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__Start-VM"] = "60000" });
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Deadlines__AwaitingResult"] = "00:00:06" }, spec);
        var (location, taskId) = await SubmitAsync(stack, "killed");
        await stack.WaitForStatusAsync(location, "running");
        var simulatedVms = Path.Combine(stack.AgentDataPath("agent-k"), "sim", "vms");
        await Eventually.True(() => Task.FromResult(Directory.Exists(simulatedVms) && Directory.GetFiles(simulatedVms, "*.json").Length == 1),
            TimeSpan.FromSeconds(30), "the VM exists, waiting to be started");

        stack.Agents[0].Kill();

        var task = await stack.WaitForFinalAsync(location);
        Assert.That(task.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("ERR_DEADLINE_AWAITINGRESULT"), stack.Logs);
        AssertNoQuotaHeld(await stack.QuotaAsync(), vmsUsed: 0);

        // Back on the same journal: the redelivered task is reported, not run again.
        Assert.That(Directory.GetFiles(simulatedVms, "*.json"), Has.Length.EqualTo(1), "the VM is still there while the agent is down");
        var restarted = await stack.RestartAgentAsync(spec with { Environment = null });
        await Eventually.True(() => Task.FromResult(restarted.Output.Contains($"Task {taskId} was running when the agent stopped")), TimeSpan.FromSeconds(30), "the redelivered task is recognised");
        await Eventually.True(async () => await stack.Broker.MessagesInAsync("agent.agent-k.tasks") == 0, because: "the redelivery is acknowledged");
        Assert.That(Directory.GetFiles(simulatedVms, "*.json"), Is.Empty, "the interrupted task's VM was removed, not run again or left untracked");
        var after = await stack.Api.GetFromJsonAsync<JsonElement>(location);
        Assert.That(after.GetProperty("status").GetString(), Is.EqualTo("FAILED"));
        AssertNoQuotaHeld(await stack.QuotaAsync(), vmsUsed: 0);
    }

    [Test]
    public async Task A_stopped_agent_reports_its_running_task_interrupted_after_the_grace_period()
    {
        var spec = new AgentSpec("agent-t", Environment: new Dictionary<string, string>(SlowNewVm) { ["Agent__ShutdownGrace"] = "00:00:02" });
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Deadlines__AwaitingResult"] = "00:05:00" }, spec);
        var (location, _) = await SubmitAsync(stack, "interrupted");
        await stack.WaitForStatusAsync(location, "running");

        await stack.Agents[0].TerminateAsync(TimeSpan.FromSeconds(30));

        var task = await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(30));
        Assert.That(task.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("ERR_INTERRUPTED"), stack.Logs);
        AssertNoQuotaHeld(await stack.QuotaAsync(), vmsUsed: 0);
    }

    [Test]
    public async Task After_a_broker_restart_every_task_ends_the_quota_is_consistent_and_heartbeats_resume()
    {
        var spec = new AgentSpec("agent-r", Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "6000" });
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Deadlines__AwaitingResult"] = "00:01:00" }, spec);
        // Other stacks' virtual hosts are made and deleted in the background: done before the broker goes down, and before the tasks are sent.
        await TestBroker.SettleAsync();
        var submitted = new List<Uri>();
        for (var i = 0; i < 4; i++)
            submitted.Add((await SubmitAsync(stack, $"restart-{i}")).Location);
        // In flight when the broker goes: sent or running (New-VM alone takes 6 s), none finished.
        foreach (var location in submitted)
            await stack.WaitForStatusAsync(location, "sent", "running");
        var before = await Task.WhenAll(submitted.Select(location => stack.Api.GetFromJsonAsync<JsonElement>(location)));
        Assert.That(before.Select(t => t.GetProperty("status").GetString()), Is.All.AnyOf("sent", "running"));

        await TestBroker.CtlAsync("stop_app");
        var restartedAt = DateTimeOffset.UtcNow;
        await TestBroker.CtlAsync("start_app");
        await TestBroker.CtlAsync("await_startup");

        var final = new List<JsonElement>();
        foreach (var location in submitted)
            final.Add(await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(120)));
        await AssertSucceededExactlyOnceAsync(stack, final);

        await Eventually.True(async () =>
        {
            var agent = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents/agent-r");
            return agent.GetProperty("lastHeartbeatAt").GetDateTimeOffset() > restartedAt.AddSeconds(1);
        }, TimeSpan.FromSeconds(60), "heartbeats resume after the restart");
        Assert.That(stack.Logs, Does.Not.Contain(stack.Broker.Password), "reconnecting services never log the broker password");
        Assert.That(stack.Logs, Does.Not.Contain(new Uri(stack.AgentBrokerUrl("agent-r")).UserInfo.Split(':')[1]), "nor the agent's");
    }
}

/// <summary>The orchestrator killed (SIGKILL) with tasks in flight: after a restart every task still ends SUCCESS, quota consistent.</summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OrchestratorRestartTests
{
    private static async Task<List<Uri>> SubmitAsync(ProcessStack stack, string prefix, int count)
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(i => stack.CreateVmAsync($"{prefix}-{i}")));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.Accepted));
        return responses.Select(r => r.Headers.Location!).ToList();
    }

    private static async Task AssertAllSucceededAsync(ProcessStack stack, IReadOnlyList<Uri> tasks)
    {
        var final = new List<JsonElement>();
        foreach (var location in tasks)
            final.Add(await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(90)));
        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"), string.Join("\n", final.Select(t => t.GetProperty("error").ToString())) + "\n" + stack.Logs);
        var quota = await stack.QuotaAsync();
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(tasks.Count));
        Assert.That(quota.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(tasks.Count * 2L));
        Assert.That(quota.GetProperty("cpu").GetProperty("held").GetInt64(), Is.Zero);
        var resources = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.GetArrayLength(), Is.EqualTo(tasks.Count));
    }

    [Test]
    public async Task Tasks_awaiting_their_result_complete_after_the_orchestrator_is_killed_and_restarted()
    {
        await using var stack = await ProcessStack.StartAsync(
            new AgentSpec("agent-o", Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "4000" }));
        var tasks = await SubmitAsync(stack, "await", 3);
        foreach (var location in tasks)
            await stack.WaitForStatusAsync(location, "sent", "running");

        await stack.KillAndRestartOrchestratorAsync();

        await AssertAllSucceededAsync(stack, tasks);
    }

    [Test]
    public async Task Tasks_in_the_middle_of_the_pipeline_complete_after_the_orchestrator_is_killed_and_restarted()
    {
        await using var stack = await ProcessStack.StartAsync(
            new Dictionary<string, string> { ["Orchestrator__SubmitWait"] = "00:00:00.001" },
            new AgentSpec("agent-p"));
        List<Uri> tasks;
        // The store's write lock, taken from here: the pipeline's transaction of each submission waits for it, so the
        // orchestrator is killed with every task accepted and inside (or queued for) a pipeline that has not committed.
        await using (var store = new SqliteConnection($"Data Source={stack.OrchestratorDatabase};Pooling=False"))
        {
            await store.OpenAsync();
            await using (var lockWrites = store.CreateCommand())
            {
                lockWrites.CommandText = "BEGIN IMMEDIATE";
                await lockWrites.ExecuteNonQueryAsync();
            }
            tasks = await SubmitAsync(stack, "pipeline", 8);
            foreach (var location in tasks)
                Assert.That((await stack.Api.GetAsync(location)).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "accepted, not stored yet");

            stack.KillOrchestrator();
        }

        await stack.RestartOrchestratorAsync();
        foreach (var location in tasks)
            await Eventually.True(async () => (await stack.Api.GetAsync(location)).IsSuccessStatusCode, TimeSpan.FromSeconds(60),
                $"the restarted orchestrator takes up the queued submission of {location}");
        await AssertAllSucceededAsync(stack, tasks);
    }
}
