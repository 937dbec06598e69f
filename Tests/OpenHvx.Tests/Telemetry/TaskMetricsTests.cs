using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Telemetry;

/// <summary>
/// The orchestrator's and agent's own metrics on the DevHost's core <c>/metrics</c>: the task counters and the state histogram move by
/// exactly the tasks run (deltas between two scrapes), and the sampled gauges report the fleet and the stores as the admin API does.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class TaskMetricsTests : DevHostFixture
{
    private const string Action = "vm.create";

    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        // The first VM's start fails, the others succeed.
        ["Agent:Simulated:Faults:Start-VM:Message"] = "power loss",
        ["Agent:Simulated:Faults:Start-VM:Times"] = "1",
        ["Orchestrator:MetricsInterval"] = "00:00:00.200",
    };

    private string MetricsUrl => $"{DevHost.App.CoreUrl}/metrics";

    private Task<PrometheusText> ScrapeAsync() => PrometheusText.ScrapeAsync(Client, MetricsUrl);

    private async Task<JsonElement> RunToEndAsync(string name)
    {
        var response = await TaskRuns.SubmitAsync(Client, "test1", Action, new { name, cpu = 2, ram = "2GB" });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return await Eventually.Get(() => Client.GetFromJsonAsync<JsonElement>(response.Headers.Location),
            t => t.GetProperty("status").GetString() is "SUCCESS" or "FAILED", TimeSpan.FromSeconds(90), $"{name} finishes");
    }

    [Test, Order(1)]
    public async Task Three_successes_and_a_failure_count_as_four_submitted_three_SUCCESS_one_FAILED_and_four_AwaitingResult_durations()
    {
        var before = await ScrapeAsync();

        var failed = await RunToEndAsync("m-failing");
        Assert.That((failed.GetProperty("status").GetString(), failed.GetProperty("error").GetProperty("code").GetString()),
            Is.EqualTo(("FAILED", "ERR_SIMULATED_FAULT")));
        for (var i = 0; i < 3; i++)
            Assert.That((await RunToEndAsync($"m-ok{i}")).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));

        // Counted right after each commit: the API may show the status a moment before the counters do.
        var after = await Eventually.Get(ScrapeAsync, scrape => Delta(before, scrape, "openhvx_tasks_finished_total", ("action", Action)) >= 4,
            TimeSpan.FromSeconds(20), "the finished counter counts all four");
        Assert.Multiple(() =>
        {
            Assert.That(Delta(before, after, "openhvx_tasks_submitted_total", ("action", Action)), Is.EqualTo(4));
            Assert.That(Delta(before, after, "openhvx_tasks_finished_total", ("action", Action), ("status", "SUCCESS")), Is.EqualTo(3));
            Assert.That(Delta(before, after, "openhvx_tasks_finished_total", ("action", Action), ("status", "FAILED")), Is.EqualTo(1));
            Assert.That(Delta(before, after, "openhvx_tasks_finished_total", ("action", Action), ("status", "CANCELED")), Is.Zero);
            Assert.That(Delta(before, after, "openhvx_task_state_duration_seconds_count", ("state", "AwaitingResult"), ("action", Action)), Is.EqualTo(4));
            Assert.That(Delta(before, after, "openhvx_task_state_duration_seconds_count", ("state", "Validating"), ("action", Action)), Is.EqualTo(4));
            // Final states are never left.
            Assert.That(after.Matching("openhvx_task_state_duration_seconds_count", ("state", "Succeeded")), Is.Empty);
            // The agent ran four scripts: three ok, one failed, none running now.
            Assert.That(Delta(before, after, "openhvx_agent_script_duration_seconds_count", ("action", Action), ("outcome", "ok")), Is.EqualTo(3));
            Assert.That(Delta(before, after, "openhvx_agent_script_duration_seconds_count", ("action", Action), ("outcome", "failed")), Is.EqualTo(1));
            Assert.That(after.Value("openhvx_agent_tasks_running", ("action", Action)), Is.Zero);
        });
    }

    [Test, Order(2)]
    public async Task The_sampled_gauges_show_one_agent_online_its_free_capacity_as_the_election_counts_it_and_empty_stores()
    {
        var agentLabel = ("agent", TestDevHost.AgentId);
        // The agent's free capacity moves while heartbeats catch up with the VMs just built, and a sample taken while the last task still
        // held its quota shows the same free capacity (its placement counts until a heartbeat shows its VM): the API and the gauges are
        // read together until they agree, after all the tasks have ended.
        var (freeCpu, agreed) = await Eventually.Get(async () =>
            {
                var agent = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents")).EnumerateArray().Single();
                Assert.That(agent.GetProperty("agentId").GetString(), Is.EqualTo(TestDevHost.AgentId));
                var free = agent.GetProperty("free");
                var held = agent.GetProperty("inFlightHolds");
                var cpu = free.GetProperty("cpu").GetInt64() - held.GetProperty("cpu").GetInt64();
                var memoryBytes = (free.GetProperty("memoryMB").GetInt64() - held.GetProperty("memoryMB").GetInt64()) * 1024 * 1024;
                var sample = await ScrapeAsync();
                var agrees = sample.Value("openhvx_agent_free_cpu", agentLabel) == cpu && sample.Value("openhvx_agent_free_memory_bytes", agentLabel) == memoryBytes;
                return (Cpu: cpu, Scrape: agrees ? sample : null);
            },
            read => read.Scrape is { } s && s.Matching("openhvx_quota_holds_active").Any(h => h.Value == 0),
            TimeSpan.FromSeconds(30), "a sample taken after the tasks ended shows the agent's free capacity as the API does");
        Assert.That(freeCpu, Is.GreaterThan(0));
        var scrape = agreed!;
        Assert.Multiple(() =>
        {
            Assert.That(Only(scrape, "openhvx_agents_online"), Is.EqualTo(1));
            Assert.That(scrape.Matching("openhvx_agent_free_cpu").Select(s => s.Labels["agent"]), Is.EqualTo(new[] { TestDevHost.AgentId }));
            Assert.That(scrape.Value("openhvx_agent_heartbeat_age_seconds", agentLabel), Is.InRange(0, 15));
            Assert.That(Only(scrape, "openhvx_quota_holds_active"), Is.Zero);
            Assert.That(Only(scrape, "openhvx_agent_outbox_backlog"), Is.Zero);
            Assert.That(Only(scrape, "openhvx_dead_letters"), Is.Zero);
            Assert.That(Only(scrape, "openhvx_webhooks_backlog"), Is.Zero);
        });
    }

    /// <summary>The value of the one series of a gauge without labels of its own (a missing series fails, not reads 0).</summary>
    private static double Only(PrometheusText scrape, string name) => scrape.Matching(name).Single().Value;

    private static double Delta(PrometheusText before, PrometheusText after, string name, params (string, string)[] labels)
        => after.Value(name, labels) - before.Value(name, labels);
}
