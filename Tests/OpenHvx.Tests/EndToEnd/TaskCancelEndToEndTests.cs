using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.EndToEnd;

/// <summary>
/// POST /tasks/{id}/cancel over real HTTP through the DevHost gateway with real tokens: the real agent (one task at a time) stops what
/// runs and never starts what waits, and the quota is exact afterwards.
/// </summary>
[TestFixture]
[Category("EndToEnd")]
[NonParallelizable]
public sealed class TaskCancelEndToEndTests : DevHostFixture
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Agent:MaxConcurrency"] = "1",
        // Stopping a script and removing what it built takes a moment on a busy machine: the answer waits for it.
        ["Orchestrator:CancelWait"] = "00:00:30",
    };

    private AgentOptions Agent => DevHost.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

    /// <summary>Makes a cmdlet of the simulated host this slow until disposed (its config is read on every call).</summary>
    private IDisposable Slow(string cmdlet, int milliseconds)
    {
        Agent.Simulated.LatencyMs[cmdlet] = milliseconds;
        DevHost.Services.GetRequiredService<SimulatedHost>().WriteConfig();
        return new Restore(() =>
        {
            Agent.Simulated.LatencyMs.Remove(cmdlet);
            DevHost.Services.GetRequiredService<SimulatedHost>().WriteConfig();
        });
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>A tenant of the test's own (unlimited) and a client of one of its writers.</summary>
    private async Task<(string TenantId, HttpClient Writer)> TenantAsync()
    {
        var tenantId = "cancel-" + Guid.NewGuid().ToString("N")[..8];
        Assert.That((await Client.PostAsJsonAsync("/api/v1/admin/tenants", new { tenantId })).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return (tenantId, await Tokens.TenantClientAsync(Client, DevHost.Url, "writer-" + tenantId, tenantId, "tenant-user-rw"));
    }

    private static async Task<Uri> CreateAsync(HttpClient client, string name, string? tenantId = null, string? agentId = null)
    {
        var response = tenantId is null
            ? await client.PostAsJsonAsync("/api/v1/tenant/tasks", new { action = "vm.create", data = new { name, cpu = 2, ram = "2GB" } })
            : await client.PostAsJsonAsync("/api/v1/admin/tasks", new
            {
                tenantId, action = "vm.create", target = agentId is null ? null : new { kind = "vm", agentId }, data = new { name, cpu = 2, ram = "2GB" },
            });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
        return response.Headers.Location!;
    }

    private static Task<HttpResponseMessage> CancelAsync(HttpClient client, Uri task) => client.PostAsync(task + "/cancel", null);

    private static async Task<JsonElement> WaitForStatusAsync(HttpClient client, Uri task, params string[] statuses)
        => await Eventually.Get(() => client.GetFromJsonAsync<JsonElement>(task), t => statuses.Contains(t.GetProperty("status").GetString()),
            TimeSpan.FromSeconds(60), $"{task} reaches {string.Join("/", statuses)}");

    /// <summary>Used and held of each quota line: cpu, memoryMB, storageMB, vmCount.</summary>
    private async Task<long[]> QuotaAsync(string tenantId)
    {
        var quota = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tenants/{tenantId}/quotas");
        return [.. new[] { "cpu", "memoryMB", "storageMB", "vmCount" }.SelectMany(line => new[]
        {
            quota.GetProperty(line).GetProperty("used").GetInt64(), quota.GetProperty(line).GetProperty("held").GetInt64(),
        })];
    }

    private async Task<List<JsonElement>> HostVmsNamedAsync(string tenantId, string name)
        => [.. (await AgentHost.VmsAsync(DevHost.Services)).Where(vm => vm.GetProperty("name").GetString() == $"{tenantId}.{name}")];

    /// <summary>The task's path (Location may be relative or absolute) and its id.</summary>
    private string PathOf(Uri task) => new Uri(new Uri(DevHost.Url), task).AbsolutePath;

    private Guid IdOf(Uri task) => Guid.Parse(PathOf(task).Split('/')[^1]);

    private static IEnumerable<string> Notes(JsonElement task) => task.GetProperty("timeline").EnumerateArray().Select(e => e.GetProperty("note").GetString() ?? "");

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    [Test]
    public async Task A_task_queued_behind_another_on_a_busy_agent_is_CANCELED_at_once_never_runs_and_gives_back_its_quota_and_name()
    {
        var (tenantId, writer) = await TenantAsync();
        Uri busy, queued;
        long[] before;
        using (Slow("Set-VMProcessor", 5000))
        {
            busy = await CreateAsync(writer, "busy");
            await WaitForStatusAsync(writer, busy, "running");
            before = await QuotaAsync(tenantId);
            queued = await CreateAsync(writer, "queued");
            Assert.That((await writer.GetFromJsonAsync<JsonElement>(queued)).GetProperty("status").GetString(), Is.EqualTo("sent"), "waiting behind the busy one");
            Assert.That(await QuotaAsync(tenantId), Is.Not.EqualTo(before), "held while it waits");

            var response = await CancelAsync(writer, queued);

            var canceled = await BodyAsync(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), canceled.ToString());
            Assert.That((canceled.GetProperty("status").GetString(), canceled.GetProperty("state").GetString(), canceled.GetProperty("error").GetProperty("code").GetString()),
                Is.EqualTo(("CANCELED", "Canceled", "ERR_CANCELED")));
            Assert.That(canceled.TryGetProperty("agentId", out _), Is.False, "a tenant's view");
            Assert.That(canceled.GetProperty("startedAt").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(Notes(canceled), Has.Some.EqualTo($"cancel requested by user writer-{tenantId}: its agent was asked to stop the task")
                .And.Some.EqualTo("its agent confirmed: it had not started the task and never will"));
            Assert.That(await QuotaAsync(tenantId), Is.EqualTo(before), "used and held as before it was submitted");
            Assert.That((await writer.GetFromJsonAsync<JsonElement>(busy)).GetProperty("status").GetString(), Is.EqualTo("running"), "the other task goes on");
        }

        Assert.That((await WaitForStatusAsync(writer, busy, "SUCCESS", "FAILED")).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        // The name is free again; with one task at a time, the agent takes the canceled task's delivery before this one, and does not run it.
        var again = await WaitForStatusAsync(writer, await CreateAsync(writer, "queued"), "SUCCESS", "FAILED");
        Assert.That(again.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), again.ToString());
        var vms = await HostVmsNamedAsync(tenantId, "queued");
        Assert.That(vms.Select(vm => vm.GetProperty("id").GetString()), Is.EqualTo(new[] { again.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString() }),
            "the only VM of that name is the new task's");
        var queuedId = IdOf(queued);
        Assert.That(Directory.Exists(Path.Combine(Agent.FullDataPath, "vms", tenantId, queuedId.ToString())), Is.False, "the canceled task built nothing");
        Assert.That(DevHost.Services.GetRequiredService<TaskJournal>().Find(queuedId)?.State, Is.EqualTo(JournalEntryState.Finished), "recorded done, never run");
        var quota = await QuotaAsync(tenantId);
        Assert.That((quota[0], quota[1], quota[6], quota[7]), Is.EqualTo((4L, 0L, 2L, 0L)), "two VMs charged, nothing held");

        var twice = await CancelAsync(writer, queued);
        var final = await BodyAsync(twice);
        Assert.That(twice.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), final.ToString());
        Assert.That((final.GetProperty("code").GetString(), final.GetProperty("taskStatus").GetString()), Is.EqualTo(("ERR_TASK_FINAL", "CANCELED")));
    }

    [Test]
    public async Task A_running_create_has_its_script_stopped_and_its_VM_removed_and_ends_CANCELED_with_the_quota_exact()
    {
        var (tenantId, _) = await TenantAsync();
        var changes = new ConcurrentQueue<TaskStateChanged>();
        var events = DevHost.Services.GetRequiredService<IBus>().ConnectReceiveEndpoint("cancel-test-events-" + Guid.NewGuid().ToString("N"),
            endpoint => endpoint.Handler<TaskStateChanged>(context =>
            {
                changes.Enqueue(context.Message);
                return Task.CompletedTask;
            }));
        await events.Ready;
        try
        {
            Uri task;
            HttpResponseMessage response;
            using (Slow("Set-VMProcessor", 60_000))
            {
                task = await CreateAsync(Client, "doomed", tenantId);
                await WaitForStatusAsync(Client, task, "running");
                await Eventually.True(async () => (await HostVmsNamedAsync(tenantId, "doomed")).Count == 1, TimeSpan.FromSeconds(30), "the VM is built");

                response = await CancelAsync(Client, task);
            }

            var canceled = await BodyAsync(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), canceled.ToString());
            Assert.That((canceled.GetProperty("status").GetString(), canceled.GetProperty("error").GetProperty("code").GetString()), Is.EqualTo(("CANCELED", "ERR_CANCELED")));
            Assert.That(canceled.GetProperty("agentId").GetString(), Is.EqualTo(TestDevHost.AgentId), "an admin's view");
            Assert.That(canceled.GetProperty("error").GetProperty("details").TryGetProperty("cleanup", out _), Is.True, "the agent's cleanup report");
            Assert.That(await HostVmsNamedAsync(tenantId, "doomed"), Is.Empty, "the VM is gone from the host");
            Assert.That(await QuotaAsync(tenantId), Has.All.Zero, "nothing used, nothing held");
            var stored = await Client.GetFromJsonAsync<JsonElement>(task);
            Assert.That(stored.GetProperty("timeline").EnumerateArray().Select(e => (e.GetProperty("state").GetString(), e.GetProperty("status").GetString())),
                Has.Member(("Canceling", "canceling")).And.Member(("Canceled", "CANCELED")));
            Assert.That(Notes(stored), Has.Some.EqualTo("cancel requested by an admin: its agent was asked to stop the task")
                .And.Some.EqualTo("its agent confirmed: it stopped the task's script and removed what the task had built"));

            var taskId = IdOf(task);
            var published = await Eventually.Get(() => Task.FromResult(changes.Where(c => c.TaskId == taskId).ToList()), list => list.Any(c => c.To == "Canceled"),
                because: "TaskStateChanged to Canceled is published");
            Assert.That(published.TakeLast(2).Select(c => (c.To, c.Status, c.ErrorCode)),
                Is.EqualTo(new[] { ("Canceling", "canceling", (string?)null), ("Canceled", "CANCELED", "ERR_CANCELED") }));
        }
        finally
        {
            await events.StopAsync();
        }
    }

    [Test]
    public async Task A_cancel_the_agent_has_not_confirmed_within_the_wait_answers_202_canceling_with_Location_and_Retry_After_and_the_task_then_ends_CANCELED()
    {
        var (tenantId, writer) = await TenantAsync();
        var options = DevHost.Services.GetRequiredService<IOptions<OrchestratorOptions>>().Value;
        var wait = options.CancelWait;
        Uri task;
        HttpResponseMessage response;
        // Removing the VM is slow: the agent is still cleaning up when the wait ends.
        using (Slow("Set-VMProcessor", 60_000))
        using (Slow("Remove-VM", 3000))
        {
            task = await CreateAsync(writer, "slow-to-cancel");
            await WaitForStatusAsync(writer, task, "running");
            await Eventually.True(async () => (await HostVmsNamedAsync(tenantId, "slow-to-cancel")).Count == 1, TimeSpan.FromSeconds(30), "the VM is built");
            options.CancelWait = TimeSpan.FromMilliseconds(300);
            try
            {
                response = await CancelAsync(writer, task);
            }
            finally
            {
                options.CancelWait = wait;
            }

            var canceling = await BodyAsync(response);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), canceling.ToString());
            Assert.That(canceling.GetProperty("status").GetString(), Is.EqualTo("canceling"));
            Assert.That(response.Headers.Location!.IsAbsoluteUri, Is.True, "an absolute Location (made by the gateway)");
            Assert.That(PathOf(response.Headers.Location!), Is.EqualTo(PathOf(task)), "where to follow it");
            Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(2)), "the task API's polling interval");

            var ended = await WaitForStatusAsync(writer, response.Headers.Location!, "CANCELED", "SUCCESS", "FAILED");
            Assert.That(ended.GetProperty("status").GetString(), Is.EqualTo("CANCELED"), ended.ToString());
        }
        Assert.That(await HostVmsNamedAsync(tenantId, "slow-to-cancel"), Is.Empty);
        Assert.That(await QuotaAsync(tenantId), Has.All.Zero);
    }

    [Test]
    public async Task The_answer_says_SUCCESS_when_the_agent_finished_before_the_cancel_reached_it_and_the_VM_is_charged()
    {
        // An agent played by the test (nothing consumes its queues), draining so that only a task pinned to it goes there.
        const string ghost = "ghost-cancel";
        var capacity = new AgentCapacity(8, 16384, 102400);
        await DevHost.Services.GetRequiredService<IAgentStore>().RecordHeartbeatAsync(
            new AgentHeartbeat("test", ghost, DateTimeOffset.UtcNow, "ghost-host", [ActionNames.VmCreate], capacity, capacity, 0,
                Status: AgentStatuses.Active, IntervalSeconds: 600), DateTimeOffset.UtcNow);
        Assert.That((await Client.PatchAsJsonAsync($"/api/v1/admin/agents/{ghost}", new { status = "draining" })).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var (tenantId, _) = await TenantAsync();
        var task = await CreateAsync(Client, "finished-first", tenantId, agentId: ghost);
        var taskId = IdOf(task);
        Assert.That((await WaitForStatusAsync(Client, task, "sent")).GetProperty("agentId").GetString(), Is.EqualTo(ghost));

        var cancel = CancelAsync(Client, task);
        await WaitForStatusAsync(Client, task, "canceling");
        var vmId = Guid.NewGuid();
        await DevHost.Services.GetRequiredService<IBus>().Publish(new AgentTaskResult(taskId, ghost, true,
            JsonSerializer.SerializeToElement(new { vm = new { guid = vmId, name = "finished-first" } }), null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 1));
        var response = await cancel;

        var succeeded = await BodyAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), succeeded.ToString());
        Assert.That(succeeded.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        Assert.That(succeeded.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString(), Is.EqualTo(vmId.ToString()));
        Assert.That(Notes(succeeded), Has.Some.EqualTo("its agent had finished the task before the cancel reached it"));
        var quota = await QuotaAsync(tenantId);
        Assert.That((quota[0], quota[1], quota[6], quota[7]), Is.EqualTo((2L, 0L, 1L, 0L)), "charged, nothing held");
    }

    [Test]
    public async Task A_cancel_is_404_for_an_unknown_task_or_another_tenants_403_for_a_read_only_user_and_409_for_a_task_that_ended()
    {
        var (tenantId, writer) = await TenantAsync();
        var (_, stranger) = await TenantAsync();
        var reader = await Tokens.TenantClientAsync(Client, DevHost.Url, "reader-" + tenantId, tenantId, "tenant-user-r");
        var task = await CreateAsync(writer, "done");
        Assert.That((await WaitForStatusAsync(writer, task, "SUCCESS", "FAILED")).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));

        async Task<(HttpStatusCode Status, string? Code)> CodeAsync(HttpClient client, string path)
        {
            var response = await client.PostAsync(path, null);
            return (response.StatusCode, (await BodyAsync(response)).GetProperty("code").GetString());
        }
        var tenantPath = PathOf(task) + "/cancel";
        Assert.That(await CodeAsync(stranger, tenantPath), Is.EqualTo((HttpStatusCode.NotFound, "ERR_NOT_FOUND")), "another tenant's task is not found, not final");
        Assert.That(await CodeAsync(Client, $"/api/v1/admin/tasks/{Guid.NewGuid()}/cancel"), Is.EqualTo((HttpStatusCode.NotFound, "ERR_NOT_FOUND")));
        Assert.That(await CodeAsync(Client, "/api/v1/admin/tasks/not-a-task/cancel"), Is.EqualTo((HttpStatusCode.NotFound, "ERR_NOT_FOUND")));
        Assert.That(await CodeAsync(reader, tenantPath), Is.EqualTo((HttpStatusCode.Forbidden, "ERR_FORBIDDEN")));

        var response = await writer.PostAsync(tenantPath, null);
        var problem = await BodyAsync(response);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), problem.ToString());
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((problem.GetProperty("code").GetString(), problem.GetProperty("taskStatus").GetString(), problem.GetProperty("taskId").GetString()),
            Is.EqualTo(("ERR_TASK_FINAL", "SUCCESS", IdOf(task).ToString())));
        Assert.That((await writer.GetFromJsonAsync<JsonElement>(task)).GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), "unchanged");
    }
}
