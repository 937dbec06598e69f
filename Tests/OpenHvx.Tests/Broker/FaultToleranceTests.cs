using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

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
        var spec = new AgentSpec("agent-r", Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "3000" });
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Deadlines__AwaitingResult"] = "00:01:00" }, spec);
        var submitted = new List<Uri>();
        for (var i = 0; i < 4; i++)
            submitted.Add((await SubmitAsync(stack, $"restart-{i}")).Location);

        await TestBroker.CtlAsync("stop_app");
        var restartedAt = DateTimeOffset.UtcNow;
        await TestBroker.CtlAsync("start_app");
        await TestBroker.CtlAsync("await_startup");

        var final = new List<JsonElement>();
        foreach (var location in submitted)
            final.Add(await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(120)));
        var succeeded = final.Count(t => t.GetProperty("status").GetString() == "SUCCESS");
        TestContext.Out.WriteLine($"{succeeded} of {final.Count} succeeded across the restart: " +
            string.Join(", ", final.Select(t => t.GetProperty("status").GetString() + (t.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? ":" + e.GetProperty("code").GetString() : ""))));
        AssertNoQuotaHeld(await stack.QuotaAsync(), vmsUsed: succeeded);
        var resources = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.GetArrayLength(), Is.EqualTo(succeeded));

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
        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"), stack.Logs);
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
        var tasks = await SubmitAsync(stack, "pipeline", 8);
        var states = new List<string>();
        foreach (var location in tasks)
        {
            var response = await stack.Api.GetAsync(location);
            states.Add(response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString()! : "not yet saved");
        }

        await stack.KillAndRestartOrchestratorAsync();

        TestContext.Out.WriteLine("states when killed: " + string.Join(", ", states));
        await AssertAllSucceededAsync(stack, tasks);
    }
}
