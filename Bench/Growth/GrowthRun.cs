using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Bench.Load;
using OpenHvx.Bench.Stack;

namespace OpenHvx.Bench.Growth;

/// <summary>One store state of the growth run at one concurrency: vm.create through the gateway by the same tenant.</summary>
/// <param name="CpuSeconds">per process, from the first POST until the last task's final event</param>
/// <param name="IdleCpuMsPerSecond">per process, with no task running, measured just before (heartbeats, sweeps, polls)</param>
/// <param name="OthersPercent">the share of the machine that processes outside the stack, the bench and the broker took meanwhile</param>
/// <param name="ByEvents">the end of the run was seen on task.events (false: by asking the API task by task, which the orchestrator's CPU then includes)</param>
public sealed record GrowthPoint(
    string Store, int Concurrency, int Submitted, int Accepted, int Completed, double AcceptedPerSecond, Latency Answer202,
    double WindowSeconds, IReadOnlyDictionary<string, double> CpuSeconds, IReadOnlyDictionary<string, double> IdleCpuMsPerSecond,
    IReadOnlyDictionary<string, int> FailuresByCode, bool ByEvents, double OthersPercent)
{
    /// <summary>CPU milliseconds per completed (SUCCESS) task, per process.</summary>
    public IReadOnlyDictionary<string, double> CpuMsPerTask => CpuSeconds.ToDictionary(p => p.Key, p => Completed == 0 ? 0 : Latency.Round(p.Value * 1000 / Completed));

    public double OrchestratorCpuMsPerTask => CpuMsPerTask.TryGetValue("orchestrator", out var ms) ? ms : 0;
}

/// <summary>What the growth run did and measured.</summary>
public sealed record GrowthFigures(
    int HistoryTasks, int IdleAgents, string Tenant, IReadOnlyList<GrowthPoint> Points, SeededHistory? Seeded, string ListingCheck,
    double AgentsRegisteredSeconds, long IdleHeartbeatsSent, long IdleHeartbeatsFailed, string Conditions)
{
    public const string Empty = "empty";
    public const string History = "history";
    public const string Agents = "history + idle agents";
}

/// <summary>
/// How the cost of a task grows with what the orchestrator holds (issue 12): on a stack of its own (rabbitmq mode), the same
/// tenant submits vm.create through the gateway (a) on an empty store, (b) after <c>history</c> finished tasks of that tenant
/// with their committed quota holds were written into the store, (c) then also with <c>agents</c> extra registered agents
/// that only heartbeat. Per point: 202 percentiles at each concurrency and CPU per completed task of every process.
/// </summary>
public static class GrowthRun
{
    public const string Tenant = "growth";

    public static async Task<GrowthFigures> RunAsync(string folder, int agents, int agentConcurrency, int history, int idleAgents,
        IReadOnlyList<int> levels, IReadOnlyList<int> counts, Action<string> say)
    {
        Directory.CreateDirectory(folder);
        await using var broker = await BenchBroker.CreateAsync();
        await using var stack = await PlatformStack.StartRabbitMqAsync(folder, broker.Url, agents, agentConcurrency);
        say($"growth: up ({string.Join(", ", stack.Processes.Select(p => p.Name))})");
        using var admin = await stack.AdminClientAsync(stack.OrchestratorUrl);
        var token = await stack.CreateTenantAsync(admin, Tenant);
        await using var watch = await TaskEventWatch.StartAsync(broker.Url, Tenant);
        var clients = levels.Distinct().ToDictionary(level => level, level => TaskLoad.Client(stack.GatewayUrl, token, level));
        var points = new List<GrowthPoint>();
        var batch = 0;

        async Task<TaskEventWatch.Final?> AskAsync(Guid id)
        {
            var task = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/tasks/{id}");
            var status = task.GetProperty("status").GetString();
            return status is "SUCCESS" or "FAILED"
                ? new TaskEventWatch.Final(status, task.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e.GetProperty("code").GetString() : null)
                : null;
        }

        async Task<(IReadOnlyList<Submission> Submissions, double Seconds, IReadOnlyDictionary<Guid, TaskEventWatch.Final> Finals, bool ByEvents)> SubmitAsync(int level, int count)
        {
            var prefix = $"g{++batch}";
            var (submissions, seconds) = await TaskLoad.PostAsync(clients[level], "/api/v1/tenant/tasks", count, level, i => Body($"{prefix}-{i}"));
            var ids = submissions.Where(s => s.Status == 202 && s.TaskId is not null).Select(s => s.TaskId!.Value).ToList();
            var (finals, byEvents) = await watch.WaitAsync(ids, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), AskAsync);
            return (submissions, seconds, finals, byEvents);
        }

        async Task PointAsync(string store)
        {
            // Warm the paths this store state exercises (first reads of a grown file, new agents' rows), unmeasured.
            await SubmitAsync(levels[0], 10);
            var idle = await stack.IdleCpuAsync(TimeSpan.FromSeconds(5));
            foreach (var (level, count) in levels.Zip(counts))
            {
                var before = stack.Usage();
                var machineBefore = MachineLoad.Take();
                var window = Stopwatch.StartNew();
                var (submissions, seconds, finals, byEvents) = await SubmitAsync(level, count);
                var windowSeconds = window.Elapsed.TotalSeconds;
                var after = stack.Usage();
                var machineAfter = MachineLoad.Take();
                var cpu = after.ToDictionary(p => p.Key, p => Latency.Round(p.Value.CpuSeconds - before[p.Key].CpuSeconds));
                var accepted = submissions.Where(s => s.Status == 202 && s.TaskId is not null).ToList();
                var failures = submissions.Where(s => s.Status != 202).Select(s => s.Code ?? "HTTP_" + s.Status)
                    .Concat(accepted.Select(s => finals.TryGetValue(s.TaskId!.Value, out var f) ? f.Status == "FAILED" ? f.ErrorCode ?? "FAILED" : null : "UNFINISHED"))
                    .OfType<string>().GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
                var point = new GrowthPoint(store, level, submissions.Count, accepted.Count, finals.Values.Count(f => f.Status == "SUCCESS"),
                    Latency.Round(accepted.Count / seconds), Latency.Of(submissions.Select(s => s.AnswerMs)), Latency.Round(windowSeconds),
                    cpu, idle, failures, byEvents, MachineLoad.OthersPercent(machineBefore, machineAfter, cpu.Values.Sum()));
                points.Add(point);
                say($"growth, {store} at {level}: 202 p50 {point.Answer202.P50} ms, p99 {point.Answer202.P99} ms, orchestrator {point.OrchestratorCpuMsPerTask} ms CPU per task " +
                    $"({point.Completed} completed in {windowSeconds:0.0} s{(byEvents ? "" : ", end seen by polling the API")}), failures {failures.Count}, others {point.OthersPercent} % of the machine");
            }
        }

        try
        {
            // Warm-up: JIT (and its second tier), pools, runspaces; else the empty store's figures carry start-up costs.
            // Methods reach the second tier only after enough calls and a pause in first-tier compiling: about a hundred tasks.
            await SubmitAsync(levels[^1], 96);
            await SubmitAsync(levels[0], 20);
            await PointAsync(GrowthFigures.Empty);

            var seeded = await HistorySeeder.SeedAsync(Path.Combine(folder, "orchestrator.db"), Tenant, history);
            say($"growth: seeded {seeded.Tasks} finished tasks of {Tenant} with committed holds ({seeded.DocumentBytes} bytes a document" +
                $"{(seeded.QuotaCountersUpdated ? ", quota_usage counters raised" : "")}) in {seeded.Seconds} s");
            var listing = await CheckListingAsync(admin, stack.GatewayUrl, token, history);
            say($"growth: listing check: {listing}");
            await PointAsync(GrowthFigures.History);

            var registered = Stopwatch.StartNew();
            var like = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents/bench-agent-1");
            await using var idle = await IdleAgents.StartAsync(broker.Url, idleAgents, like);
            await WaitRegisteredAsync(admin, idle.Ids, TimeSpan.FromMinutes(3));
            var registeredSeconds = Latency.Round(registered.Elapsed.TotalSeconds);
            say($"growth: {idleAgents} idle agents registered and fresh in {registeredSeconds:0.0} s");
            await PointAsync(GrowthFigures.Agents);
            // Still fresh at the end: the last point ran with every idle agent in the election.
            await WaitRegisteredAsync(admin, idle.Ids, TimeSpan.FromSeconds(30));

            return new GrowthFigures(history, idleAgents, Tenant, points, seeded, listing, registeredSeconds, idle.Sent, idle.Failed,
                $"rabbitmq mode, a stack of its own ({agents} agents, up to {agentConcurrency} tasks each); tenant `{Tenant}` posts vm.create through the gateway, " +
                $"{string.Join(" and ", levels.Zip(counts).Select(p => $"{p.Second} at {p.First} client{(p.First == 1 ? "" : "s")}"))} per point (after 10 unmeasured); " +
                $"history: {history:N0} copies of one of its SUCCESS tasks ({seeded.DocumentBytes:N0}-byte document) with committed quota holds, written into the " +
                $"orchestrator's SQLite file{(seeded.QuotaCountersUpdated ? " (and its quota_usage counters)" : "")} while it ran; " +
                $"idle agents: {idleAgents:N0} more agents publishing real heartbeats on agent.telemetry every {IdleAgents.Interval.TotalSeconds:0} s " +
                "(the agent's default interval, fresh within the 45 s window), with a real agent's capabilities and capacity and nothing free, so that every " +
                "election looks at them and passes them over for lack of CPU; the end of each run is seen on task.events, which costs the orchestrator nothing");
        }
        finally
        {
            foreach (var client in clients.Values)
                client.Dispose();
        }
    }

    /// <summary>The seeded tasks must be readable: the admin's and the tenant's lists, at the top and deep in the history, and one task by id.</summary>
    private static async Task<string> CheckListingAsync(HttpClient admin, string gatewayUrl, string token, int history)
    {
        using var tenant = TaskLoad.Client(gatewayUrl, token, 1);
        var counts = new List<int>();
        foreach (var (client, path) in new[]
        {
            (admin, $"/api/v1/admin/tasks?tenantId={Tenant}&limit=500"),
            (admin, $"/api/v1/admin/tasks?tenantId={Tenant}&limit=500&offset={Math.Max(0, history / 2)}"),
            (tenant, $"/api/v1/tenant/tasks?limit=500&offset={Math.Max(0, history / 2)}"),
        })
        {
            using var response = await client.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {text[..Math.Min(500, text.Length)]}");
            var items = JsonDocument.Parse(text).RootElement.GetProperty("items").EnumerateArray().ToList();
            if (items.Count == 0 || items.Any(i => i.GetProperty("status").GetString() is not ("SUCCESS" or "FAILED") || !Guid.TryParse(i.GetProperty("taskId").GetString(), out _)))
                throw new InvalidOperationException($"GET {path}: {items.Count} items, not all of them finished tasks");
            counts.Add(items.Count);
        }
        var deep = JsonDocument.Parse(await admin.GetStringAsync($"/api/v1/admin/tasks?tenantId={Tenant}&limit=1&offset={history - 1}")).RootElement
            .GetProperty("items")[0].GetProperty("taskId").GetString();
        using (var one = await admin.GetAsync($"/api/v1/admin/tasks/{deep}"))
        {
            if (!one.IsSuccessStatusCode)
                throw new InvalidOperationException($"GET /api/v1/admin/tasks/{deep}: {(int)one.StatusCode}");
        }
        return $"ok ({counts[0]} and {counts[1]} finished tasks from the admin's list at offsets 0 and {history / 2:N0}, {counts[2]} from the tenant's at {history / 2:N0}, one seeded task by id)";
    }

    private static async Task WaitRegisteredAsync(HttpClient admin, IReadOnlyList<string> ids, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var wanted = ids.ToHashSet();
        while (true)
        {
            var online = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents")).EnumerateArray()
                .Count(a => wanted.Contains(a.GetProperty("agentId").GetString()!) && a.GetProperty("online").GetBoolean());
            if (online == wanted.Count)
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{online} of {wanted.Count} idle agents are registered and fresh");
            await Task.Delay(1000);
        }
    }

    private static string Body(string name) => JsonSerializer.Serialize(new { action = "vm.create", data = new { name, cpu = 1, ram = "512MB" } });
}
