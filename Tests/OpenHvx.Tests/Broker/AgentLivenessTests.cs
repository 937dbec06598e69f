using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// The estate as it is, over real processes on RabbitMQ: capacity that counts what finished tasks built until heartbeats show it,
/// agents that are offline as soon as they are (killed, hung, stopping), tasks that leave an agent that does not start them, and drain.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class AgentLivenessTests
{
    private static async Task<(Uri Location, string AgentId)> CreateAsync(ProcessStack stack, string name, string ram = "2GB", int cpu = 2)
    {
        var response = await stack.Api.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name, cpu, ram } });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), body.ToString());
        var task = await stack.Api.GetFromJsonAsync<JsonElement>(response.Headers.Location!);
        return (response.Headers.Location!, task.GetProperty("agentId").GetString()!);
    }

    private static async Task<JsonElement> AgentAsync(ProcessStack stack, string agentId)
        => await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/admin/agents/{agentId}");

    private static async Task<(JsonElement Agent, TimeSpan After)> WaitOfflineAsync(ProcessStack stack, string agentId, Stopwatch since, TimeSpan timeout)
    {
        var agent = await Eventually.Get(() => AgentAsync(stack, agentId), a => !a.GetProperty("online").GetBoolean(), timeout, $"{agentId} is offline");
        return (agent, since.Elapsed);
    }

    private static void AssertQuotaExact(JsonElement quota, long vms)
    {
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
            Assert.That(quota.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(vms));
    }

    [Test]
    public async Task Four_sequential_20GB_creates_spread_over_both_agents_before_heartbeats_show_the_first_ones_and_all_succeed()
    {
        // Heartbeats as in production (15 s): none shows a VM built during the test, so only the kept placements keep count.
        var slowHeartbeat = new Dictionary<string, string> { ["Agent__HeartbeatInterval"] = "00:00:15" };
        await using var stack = await ProcessStack.StartAsync(
            new AgentSpec("agent-a", MemoryMB: 62 * 1024, Environment: slowHeartbeat), new AgentSpec("agent-b", MemoryMB: 40 * 1024, Environment: slowHeartbeat));

        var placed = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var (location, agentId) = await CreateAsync(stack, $"big{i}", ram: "20GB");
            var task = await stack.WaitForFinalAsync(location);
            Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), $"create {i} on {agentId}: {task}\n{stack.Logs}");
            placed.Add(agentId);
        }

        Assert.That(placed.Distinct(), Is.EquivalentTo(new[] { "agent-a", "agent-b" }), string.Join(", ", placed));
        Assert.That(placed.Count(a => a == "agent-a"), Is.LessThanOrEqualTo(3), "62 GB hold three 20 GB VMs");
        Assert.That(placed.Count(a => a == "agent-b"), Is.LessThanOrEqualTo(2), "40 GB hold two");
        AssertQuotaExact(await stack.QuotaAsync(), vms: 4);
    }

    [Test]
    public async Task A_killed_agent_is_offline_within_seconds_with_the_reason_and_the_next_task_goes_elsewhere()
    {
        await using var stack = await ProcessStack.StartAsync(
            new Dictionary<string, string> { ["Orchestrator__Agents__MissedHeartbeats"] = "30" },
            new AgentSpec("agent-a", MemoryMB: 16 * 1024), new AgentSpec("agent-b", MemoryMB: 64 * 1024));

        var clock = Stopwatch.StartNew();
        stack.Agents[1].Kill();
        var (agent, after) = await WaitOfflineAsync(stack, "agent-b", clock, TimeSpan.FromSeconds(15));
        TestContext.Progress.WriteLine($"agent-b offline {after.TotalSeconds:0.0} s after its SIGKILL: {agent.GetProperty("offlineReason")}");

        Assert.That(agent.GetProperty("offlineReason").GetString(), Does.StartWith("nothing consumes its task queue"));
        var listed = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
        Assert.That(listed.EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == "agent-b").GetProperty("online").GetBoolean(), Is.False);
        var (location, placedOn) = await CreateAsync(stack, "after-kill");
        Assert.That(placedOn, Is.EqualTo("agent-a"), "the preferred agent is dead");
        Assert.That((await stack.WaitForFinalAsync(location)).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
    }

    [Test]
    public async Task A_hung_agent_that_stops_heartbeating_is_offline_after_two_of_its_intervals()
    {
        var everyTwoSeconds = new Dictionary<string, string> { ["Agent__HeartbeatInterval"] = "00:00:02" };
        await using var stack = await ProcessStack.StartAsync(
            new Dictionary<string, string> { ["Orchestrator__Agents__MissedHeartbeats"] = "2" },
            new AgentSpec("agent-a", Environment: everyTwoSeconds), new AgentSpec("agent-h", Environment: everyTwoSeconds));

        // Paused, its connections stay open: the broker still sees its consumer, only the heartbeats stop.
        await stack.Agents[1].SignalAsync("STOP");
        try
        {
            var clock = Stopwatch.StartNew();
            var (agent, after) = await WaitOfflineAsync(stack, "agent-h", clock, TimeSpan.FromSeconds(20));
            TestContext.Progress.WriteLine($"agent-h offline {after.TotalSeconds:0.0} s after it stopped heartbeating: {agent.GetProperty("offlineReason")}");
            Assert.That(agent.GetProperty("offlineReason").GetString(), Does.StartWith("no heartbeat for").And.Contain("every 2 s"));
            Assert.That(after, Is.LessThan(TimeSpan.FromSeconds(4 + 2)), "two intervals, plus one for the last heartbeat's age and the poll");
        }
        finally
        {
            await stack.Agents[1].SignalAsync("CONT");
        }
        await stack.WaitForAgentsAsync("agent-h");
    }

    [Test]
    public async Task A_task_sent_to_an_agent_killed_unnoticed_ends_SUCCESS_on_another_agent_and_the_killed_one_never_runs_it()
    {
        // The orchestrator does not notice the kill (no broker check after the first, heartbeats judged over minutes): only the pickup window acts.
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string>
        {
            ["Orchestrator__Agents__ConsumerCheckInterval"] = "01:00:00",
            ["Orchestrator__Agents__MissedHeartbeats"] = "600",
            ["Orchestrator__Agents__PickupWindow"] = "00:00:04",
            ["Orchestrator__Agents__PickupGrace"] = "00:00:01",
        }, new AgentSpec("agent-a", MemoryMB: 16 * 1024), new AgentSpec("agent-b", MemoryMB: 64 * 1024));
        var killedSpec = new AgentSpec("agent-b", MemoryMB: 64 * 1024);

        var clock = Stopwatch.StartNew();
        stack.Agents[1].Kill();
        var (location, placedOn) = await CreateAsync(stack, "fenced");
        Assert.That(placedOn, Is.EqualTo("agent-b"), "placed on the killed agent, which looks alive");

        var task = await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(60));
        var elapsed = clock.Elapsed;
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), $"{task}\n{stack.Logs}");
        Assert.That(task.GetProperty("agentId").GetString(), Is.EqualTo("agent-a"));
        var replaced = task.GetProperty("timeline").EnumerateArray().Single(e => e.TryGetProperty("note", out var n) && n.ValueKind == JsonValueKind.String && n.GetString()!.Contains("re-placed on agent-a"));
        TestContext.Progress.WriteLine($"SIGKILL to SUCCESS elsewhere: {elapsed.TotalSeconds:0.0} s; re-placed at {replaced.GetProperty("at")}");
        Assert.That(elapsed, Is.LessThan(TimeSpan.FromMinutes(1)));

        // Back on its queue: the stale delivery is refused as expired, never run.
        await stack.RestartAgentAsync(killedSpec);
        await Eventually.True(async () => await stack.Broker.MessagesInAsync("agent.agent-b.tasks") == 0, TimeSpan.FromSeconds(30), "agent-b consumed its stale delivery");
        var simulatedVms = Path.Combine(stack.AgentDataPath("agent-b"), "sim", "vms");
        Assert.That(Directory.Exists(simulatedVms) ? Directory.GetFiles(simulatedVms, "*.json") : [], Is.Empty, "agent-b built nothing");
        await Eventually.True(() => Task.FromResult(stack.Agents[^1].Output.Contains("ERR_EXPIRED") || stack.Orchestrator.Output.Contains("after its pickup window")),
            TimeSpan.FromSeconds(15), "the refusal is seen");
        Assert.That(await stack.Broker.MessagesInAsync("orchestrator.results_error"), Is.Zero, "the expired answer is expected, not an error");
        var after = await stack.Api.GetFromJsonAsync<JsonElement>(location);
        Assert.That((after.GetProperty("status").GetString(), after.GetProperty("agentId").GetString()), Is.EqualTo(("SUCCESS", "agent-a")));
        AssertQuotaExact(await stack.QuotaAsync(), vms: 1);
    }

    [Test]
    public async Task A_draining_agent_finishes_its_task_gets_no_new_one_and_is_elected_again_once_active()
    {
        await using var stack = await ProcessStack.StartAsync(
            new AgentSpec("agent-a", MemoryMB: 16 * 1024),
            new AgentSpec("agent-d", MemoryMB: 64 * 1024, Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "3000" }));
        var (running, first) = await CreateAsync(stack, "before-drain");
        Assert.That(first, Is.EqualTo("agent-d"));
        await stack.WaitForStatusAsync(running, "running");

        var drain = await stack.Api.PatchAsJsonAsync("/api/v1/admin/agents/agent-d", new { status = "draining" });
        Assert.That(drain.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await drain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString(), Is.EqualTo("draining"));
        var listed = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
        Assert.That(listed.EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == "agent-d").GetProperty("status").GetString(), Is.EqualTo("draining"));

        var (during, second) = await CreateAsync(stack, "while-draining");
        Assert.That(second, Is.EqualTo("agent-a"), "a draining agent is never elected");
        Assert.That((await stack.WaitForFinalAsync(running)).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), "its task in flight finished");
        Assert.That((await stack.WaitForFinalAsync(during)).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));

        Assert.That((await stack.Api.PatchAsJsonAsync("/api/v1/admin/agents/agent-d", new { status = "active" })).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var (_, third) = await CreateAsync(stack, "after-drain");
        Assert.That(third, Is.EqualTo("agent-d"));

        var bad = await stack.Api.PatchAsJsonAsync("/api/v1/admin/agents/agent-d", new { status = "asleep" });
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_VALIDATION"));
        var unknown = await stack.Api.PatchAsJsonAsync("/api/v1/admin/agents/agent-x", new { status = "draining" });
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
