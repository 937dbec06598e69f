using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// Two orchestrators on one store and one broker behind the gateway, two agents; one orchestrator is SIGKILLed in the middle of
/// a burst of vm.create submitted with Idempotency-Keys. Clients see no error, and the survivor finishes every task.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OrchestratorFailoverTests
{
    private const int Submissions = 100;
    private const int KillAfter = 30;

    private static readonly Dictionary<string, string> Orchestrators = new()
    {
        // Room for every VM of the burst, in the tenant's quota and on the two agents.
        ["Orchestrator__Seed__Cpu"] = "1000",
        ["Orchestrator__Seed__MemoryMB"] = "4194304",
        ["Orchestrator__Seed__StorageMB"] = "67108864",
        ["Orchestrator__Seed__VmCount"] = "1000",
        // A dead orchestrator's jobs and outbox are taken over once its leases lapse: quicker than the default 15 s here.
        ["Orchestrator__Leases__Duration"] = "00:00:06",
    };

    private static AgentSpec Agent(string agentId) => new(agentId, LogicalProcessors: 128, MemoryMB: 1048576,
        Environment: new Dictionary<string, string> { ["Agent__Simulated__StorageMB"] = "33554432", ["Agent__MaxConcurrency"] = "8" });

    [Test]
    public async Task Killing_one_of_two_orchestrators_mid_burst_loses_no_submission_and_the_survivor_finishes_every_task()
    {
        await using var stack = await ProcessStack.StartWithOrchestratorsAsync(2, Orchestrators, Agent("agent-f1"), Agent("agent-f2"));
        var sweeper = await DeadlineSweepHolderAsync(stack);
        var doomed = stack.Orchestrators.Single(o => sweeper.Contains($"-{o.Id}-"));
        var survivor = stack.Orchestrators.Single(o => o != doomed);

        var answered = 0;
        var killed = new TaskCompletionSource();
        using var gate = new SemaphoreSlim(8);
        var submissions = Enumerable.Range(0, Submissions).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks")
                {
                    Content = JsonContent.Create(new { tenantId = "test1", action = "vm.create", data = new { name = $"burst-{i}" } }),
                };
                request.Headers.Add("Idempotency-Key", $"failover-{i}");
                using var response = await stack.Api.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (Interlocked.Increment(ref answered) == KillAfter)
                {
                    doomed.Kill();
                    killed.SetResult();
                }
                return (response.StatusCode, Location: response.Headers.Location, body);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        var answers = await Task.WhenAll(submissions);
        await killed.Task;

        Assert.That(answers.Where(a => a.StatusCode != HttpStatusCode.Accepted).Select(a => $"{(int)a.StatusCode} {a.body}"), Is.Empty,
            "every submission is answered 202, those in flight at the killed orchestrator included\n" + stack.Logs);
        Assert.That(doomed.HasExited, Is.True);
        var final = new List<JsonElement>();
        foreach (var (_, location, _) in answers)
            final.Add(await stack.WaitForFinalAsync(location!, TimeSpan.FromSeconds(120)));

        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"),
            string.Join("\n", final.Where(t => t.GetProperty("status").GetString() != "SUCCESS").Select(t => t.ToString())) + "\n" + stack.Logs);
        Assert.That(final.Select(t => t.GetProperty("taskId").GetString()).Distinct().Count(), Is.EqualTo(Submissions), "one task per key");
        var vmIds = final.Select(t => t.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!).ToList();

        var quota = await stack.QuotaAsync();
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64(), Is.EqualTo(Submissions), "each VM charged once");
        Assert.That(quota.GetProperty("cpu").GetProperty("used").GetInt64(), Is.EqualTo(Submissions * 2L));
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
            Assert.That(quota.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        var resources = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()), Is.EquivalentTo(vmIds), "every VM linked, once");
        var onHosts = stack.Agents.SelectMany(a => Directory.GetFiles(Path.Combine(stack.AgentDataPath(a.Name), "sim", "vms"), "*.json")).ToList();
        Assert.That(onHosts, Has.Count.EqualTo(Submissions), "no VM built twice, none untracked");

        Assert.That(Submitted(doomed), Is.GreaterThan(0), "the gateway spread submissions over both before the kill");
        Assert.That(Submitted(survivor), Is.GreaterThan(0));
        Assert.That(survivor.Output, Does.Contain("now runs the shared job deadline-sweep"), "the survivor took over the dead one's sweeps");
        TestContext.Progress.WriteLine($"[failover] submissions answered by the killed orchestrator: {Submitted(doomed)}, by the survivor: {Submitted(survivor)}");
    }

    /// <summary>The request log lines of accepted task submissions in an orchestrator's output.</summary>
    private static int Submitted(ServiceProcess orchestrator)
        => orchestrator.Output.Split('\n').Count(line => line.Contains("HTTP POST /api/v1/admin/tasks answered 202"));

    /// <summary>The instance id holding the deadline sweep's lease, read from the shared store.</summary>
    private static async Task<string> DeadlineSweepHolderAsync(ProcessStack stack)
        => await Eventually.Get(async () =>
        {
            await using var store = new SqliteConnection($"Data Source={stack.OrchestratorDatabase};Mode=ReadOnly;Pooling=False");
            await store.OpenAsync();
            await using var command = store.CreateCommand();
            command.CommandText = "SELECT holder FROM job_leases WHERE job = 'deadline-sweep'";
            return await command.ExecuteScalarAsync() as string ?? "";
        }, holder => holder.Length > 0, TimeSpan.FromSeconds(30), "an orchestrator runs the deadline sweep");
}
