using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenHvx.Bench.Load;
using OpenHvx.Bench.Stack;

namespace OpenHvx.Bench.Spread;

/// <summary>
/// One orchestrator's share of a run: submissions it answered over HTTP, tasks its saga began, its CPU, the store write transactions it
/// committed and the messages it sent or published (MassTransit's, to the saga, the agents and the event exchanges).
/// </summary>
public sealed record OrchestratorShare(string Name, long HttpSubmissions, long SagaTasksBegun, double CpuSeconds, long StoreWrites = 0, long MessagesOut = 0);

/// <summary>The same burst of vm.create through the gateway with one orchestrator and with several on one store and broker.</summary>
public sealed record SpreadPoint(int Orchestrators, int Concurrency, int Submitted, int Accepted, int Completed, double AcceptedPerSecond,
    double CompletedPerSecond, Latency Answer202, IReadOnlyList<OrchestratorShare> Shares, double StackCpuMsPerTask, IReadOnlyDictionary<string, int> FailuresByCode)
{
    public double OrchestratorCpuMsPerTask => Completed == 0 ? 0 : Latency.Round(Shares.Sum(s => s.CpuSeconds) * 1000 / Completed);
    public double StoreWritesPerTask => Completed == 0 ? 0 : Latency.Round((double)Shares.Sum(s => s.StoreWrites) / Completed);
    public double MessagesPerTask => Completed == 0 ? 0 : Latency.Round((double)Shares.Sum(s => s.MessagesOut) / Completed);
}

public sealed record SpreadFigures(IReadOnlyList<SpreadPoint> Points, string Conditions);

/// <summary>
/// Runs the burst against a RabbitMQ stack of one orchestrator, then of two sharing the SQLite file and the broker, and reads from each
/// orchestrator's <c>/metrics</c> how many submissions it answered and how many tasks its saga began: the proof that the gateway
/// spreads the requests and the task queue spreads the saga's work.
/// </summary>
public static class SpreadRun
{
    public static async Task<SpreadFigures> RunAsync(string folder, int agents, int agentConcurrency, int concurrency, int count, Action<string> say)
    {
        var points = new List<SpreadPoint>();
        foreach (var orchestrators in new[] { 1, 2 })
        {
            var runFolder = Path.Combine(folder, $"orchestrators-{orchestrators}");
            Directory.CreateDirectory(runFolder);
            await using var broker = await BenchBroker.CreateAsync();
            await using var stack = await PlatformStack.StartRabbitMqAsync(runFolder, broker.Url, agents, agentConcurrency, orchestrators);
            using var admin = await stack.AdminClientAsync(stack.GatewayUrl);
            var warmToken = await stack.CreateTenantAsync(admin, "warm");
            using (var warm = TaskLoad.Client(stack.GatewayUrl, warmToken, concurrency))
            {
                await TaskLoad.PostAsync(warm, "/api/v1/tenant/tasks", 96, concurrency, i => VmCreate($"warm-{i}"));
                await TaskLoad.WaitForIdleAsync(admin, "warm", TimeSpan.FromMinutes(3));
            }

            var tenantId = $"spread-{orchestrators}";
            var token = await stack.CreateTenantAsync(admin, tenantId);
            var before = await SharesAsync(stack);
            var cpuBefore = stack.Usage();
            using var client = TaskLoad.Client(stack.GatewayUrl, token, concurrency);
            var (submissions, seconds) = await TaskLoad.PostAsync(client, "/api/v1/tenant/tasks", count, concurrency, i => VmCreate($"{tenantId}-{i}"));
            var final = await TaskLoad.WaitForFinalAsync(admin, tenantId, TimeSpan.FromMinutes(5));
            var after = await SharesAsync(stack);
            var cpuAfter = stack.Usage();

            var accepted = submissions.Where(s => s.Status == 202 && s.TaskId is not null).ToList();
            var succeeded = accepted.Where(s => final.TryGetValue(s.TaskId!.Value, out var t) && t.GetProperty("status").GetString() == "SUCCESS").ToList();
            var lastEnd = succeeded.Count == 0 ? DateTimeOffset.UtcNow : succeeded.Max(s => final[s.TaskId!.Value].GetProperty("finishedAt").GetDateTimeOffset());
            var shares = after.Select(a =>
            {
                var b = before.Single(x => x.Name == a.Name);
                return new OrchestratorShare(a.Name, a.HttpSubmissions - b.HttpSubmissions, a.SagaTasksBegun - b.SagaTasksBegun,
                    Latency.Round(cpuAfter[a.Name].CpuSeconds - cpuBefore[a.Name].CpuSeconds), a.StoreWrites - b.StoreWrites, a.MessagesOut - b.MessagesOut);
            }).ToList();
            var stackCpu = cpuAfter.Sum(p => p.Value.CpuSeconds - cpuBefore[p.Key].CpuSeconds);
            var failures = submissions.Where(s => s.Status != 202).Select(s => s.Code ?? "HTTP_" + s.Status)
                .Concat(accepted.Where(s => !succeeded.Contains(s)).Select(s => final.TryGetValue(s.TaskId!.Value, out var t)
                    ? t.GetProperty("error").GetProperty("code").GetString() ?? "FAILED" : "UNFINISHED"))
                .GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
            var point = new SpreadPoint(orchestrators, concurrency, submissions.Count, accepted.Count, succeeded.Count, Latency.Round(accepted.Count / seconds),
                Latency.Round(succeeded.Count / (lastEnd - submissions.Min(s => s.SubmittedAt)).TotalSeconds), Latency.Of(accepted.Select(s => s.AnswerMs)),
                shares, succeeded.Count == 0 ? 0 : Latency.Round(stackCpu * 1000 / succeeded.Count), failures);
            points.Add(point);
            say($"spread, {orchestrators} orchestrator(s): accepted {point.AcceptedPerSecond:0.0}/s, completed {point.CompletedPerSecond:0.0}/s, " +
                string.Join("; ", shares.Select(s => $"{s.Name} answered {s.HttpSubmissions}, began {s.SagaTasksBegun}, {s.CpuSeconds:0.0} s CPU")));
        }
        return new SpreadFigures(points, $"{agents} agents (concurrency {agentConcurrency}) on RabbitMQ, one SQLite file shared by the orchestrators; " +
            $"{count} vm.create through the gateway, {concurrency} in flight, after 96 to warm up");
    }

    private static string VmCreate(string name) => JsonSerializer.Serialize(new { action = "vm.create", data = new { name, cpu = 1, ram = "512MB" } });

    /// <summary>Each orchestrator's counters so far, from its <c>/metrics</c>.</summary>
    private static async Task<List<OrchestratorShare>> SharesAsync(PlatformStack stack)
    {
        using var http = new HttpClient();
        var shares = new List<OrchestratorShare>();
        foreach (var (url, index) in stack.OrchestratorUrls.Select((u, i) => (u, i)))
        {
            var name = stack.OrchestratorUrls.Count == 1 ? "orchestrator" : $"orchestrator-{index + 1}";
            var lines = (await http.GetStringAsync(url + "/metrics")).Split('\n');
            shares.Add(new OrchestratorShare(name,
                (long)Sum(lines, "http_server_request_duration_seconds_count{", "http_request_method=\"POST\"", "http_route=\"/api/v1/tenant/tasks/\""),
                (long)Sum(lines, "openhvx_tasks_submitted_total{"), 0,
                (long)Sum(lines, "openhvx_store_write_transactions_total"),
                // MassTransit counts a publish as a send.
                (long)Sum(lines, "messaging_masstransit_send_ea_total")));
        }
        return shares;
    }

    private static double Sum(IEnumerable<string> lines, string series, params string[] labels)
        => lines.Where(l => l.StartsWith(series, StringComparison.Ordinal) && labels.All(l.Contains))
            .Sum(l => double.Parse(l[((l.Contains('}') ? l.LastIndexOf('}') : l.IndexOf(' ')) + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    public static void AppendMarkdown(StringBuilder md, SpreadFigures spread)
    {
        static string F(double value) => value.ToString(value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);
        md.AppendLine("**Several orchestrators**: the same burst with one orchestrator, then two on one store and one broker behind the gateway; " +
                      "per orchestrator, the submissions it answered (HTTP) and the tasks its saga began (from the task queue), and its CPU:");
        md.AppendLine();
        md.AppendLine("| orchestrators | conc. | accepted/s | 202 p50 | p99 ms | completed/s | stack CPU ms/task | orchestrators' CPU ms/task | store writes/task | messages out/task | per orchestrator: answered / began / CPU s | failures |");
        md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
        foreach (var p in spread.Points)
        {
            var failures = p.FailuresByCode.Count == 0 ? "none" : string.Join(", ", p.FailuresByCode.Select(f => $"{f.Key} ×{f.Value}"));
            md.AppendLine($"| {p.Orchestrators} | {p.Concurrency} | {F(p.AcceptedPerSecond)} | {F(p.Answer202.P50)} | {F(p.Answer202.P99)} | {F(p.CompletedPerSecond)} | " +
                          $"{F(p.StackCpuMsPerTask)} | {F(p.OrchestratorCpuMsPerTask)} | {F(p.StoreWritesPerTask)} | {F(p.MessagesPerTask)} | {string.Join("; ", p.Shares.Select(s => $"{s.Name}: {s.HttpSubmissions} / {s.SagaTasksBegun} / {F(s.CpuSeconds)}"))} | {failures} |");
        }
        md.AppendLine();
        md.AppendLine($"Conditions: {spread.Conditions}.");
        md.AppendLine();
    }
}
