using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenHvx.Bench.Dispatch;
using OpenHvx.Bench.Floor;
using OpenHvx.Bench.Growth;
using OpenHvx.Bench.Load;
using OpenHvx.Bench.Stack;
using OpenHvx.Testing;

namespace OpenHvx.Bench.Report;

public sealed record Conditions(
    string StartedAt, string Machine, int Cores, long MemoryMB, string Os, string Dotnet, string RabbitMq, string Commit, string Build,
    IReadOnlyList<int> Concurrency, IReadOnlyList<int> Counts, int Agents, int AgentConcurrency, string Vm, string? LoadAverage = null);

/// <summary>One level of one mode through one route (the gateway, or straight to the orchestrator).</summary>
/// <param name="CpuSeconds">per process, from the first POST until none of the tenant's tasks was in flight any more</param>
/// <param name="WindowSeconds">the length of that window</param>
/// <param name="OthersPercent">the share of the machine (all cores) that processes outside the stack, the bench and the broker took in that window</param>
public sealed record TaskRun(
    string Mode, string Route, int Concurrency, int Submitted, int Accepted, double AcceptedPerSecond, Latency Answer202,
    int Succeeded, double CompletedPerSecond, Latency SubmitToSuccess, IReadOnlyDictionary<string, int> FailuresByCode,
    IReadOnlyDictionary<string, double> CpuSeconds, IReadOnlyDictionary<string, double> StateMedianMs, double WindowSeconds, double OthersPercent)
{
    /// <summary>CPU milliseconds per completed (SUCCESS) task, per process.</summary>
    public IReadOnlyDictionary<string, double> CpuMsPerTask => CpuSeconds.ToDictionary(p => p.Key, p => Succeeded == 0 ? 0 : Latency.Round(p.Value * 1000 / Succeeded));
}

public sealed record BareRun(int Concurrency, int Count, double PerSecond, Latency Answer);

/// <summary>GET /api/v1/tenant/quotas through the gateway or past it: the gateway's own cost, with no agent involved.</summary>
public sealed record ReadRun(string Mode, string Route, int Concurrency, int Count, double PerSecond, Latency Answer, int Failures);

/// <param name="Issue">the issue whose target this is (12: the cost of the task pipeline), or none</param>
/// <param name="Value">the measured figure, in the unit of <paramref name="Limit"/></param>
/// <param name="Limit">the figure's bound (at most, or at least when the goal says ≥)</param>
public sealed record Target(string Name, string Goal, string Measured, bool Met, int? Issue = null, double? Value = null, double? Limit = null);

public sealed record BenchReport(
    Conditions Conditions,
    IReadOnlyList<RoundTrips> Broker,
    IReadOnlyList<BareRun> BareHttp,
    IReadOnlyList<ReadRun> Reads,
    IReadOnlyList<TaskRun> Tasks,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> PeakMemoryMB,
    IReadOnlyList<DispatchFigures> Dispatch,
    IReadOnlyList<Target> Targets,
    double Seconds,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? IdleCpuMsPerSecond = null,
    GrowthFigures? Growth = null)
{
    private static string F(double value) => value.ToString(value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var c = Conditions;
        md.AppendLine($"Run of {c.StartedAt} on {c.Machine}: {c.Cores} cores, {c.MemoryMB / 1024} GiB, {c.Os}, .NET {c.Dotnet}, RabbitMQ {c.RabbitMq}, commit {c.Commit}, {c.Build} build; " +
                      $"{c.Agents} agents in `rabbitmq` mode (1 in `devhost`), each running up to {c.AgentConcurrency} tasks at once on the simulated Hyper-V (no injected latency or faults); " +
                      $"{c.Vm}; concurrency {string.Join("/", c.Concurrency)} with {string.Join("/", c.Counts)} tasks. Took {F(Seconds)} s." +
                      (c.LoadAverage is null ? "" : $" Load average (1 min): {c.LoadAverage}."));
        md.AppendLine();
        if (Broker.Count > 0 || BareHttp.Count > 0)
        {
            md.AppendLine("**Floor.** Raw RabbitMQ round trip (persistent publish with confirms to a durable queue, consume and ack, persistent reply with confirms, consume and ack) and a bare ASP.NET Core endpoint answering 202:");
            md.AppendLine();
            md.AppendLine("| in flight | broker round trips/s | p50 ms | p99 ms | bare 202/s | p50 ms | p95 ms | p99 ms |");
            md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            // Every level of either (a run without the rabbitmq mode has no broker figures).
            foreach (var level in Broker.Select(b => b.Window).Concat(BareHttp.Select(b => b.Concurrency)).Distinct().Order())
            {
                var rt = Broker.FirstOrDefault(b => b.Window == level);
                var bare = BareHttp.FirstOrDefault(b => b.Concurrency == level);
                md.AppendLine($"| {level} | {(rt is null ? "" : F(rt.PerSecond))} | {(rt is null ? "" : F(rt.Latency.P50))} | {(rt is null ? "" : F(rt.Latency.P99))} | {(bare is null ? "" : F(bare.PerSecond))} | {(bare is null ? "" : F(bare.Answer.P50))} | {(bare is null ? "" : F(bare.Answer.P95))} | {(bare is null ? "" : F(bare.Answer.P99))} |");
            }
            md.AppendLine();
        }
        if (Reads.Count > 0)
        {
            md.AppendLine("**The gateway's own cost** on a read that involves no agent (`GET /api/v1/tenant/quotas` as a tenant, agents idle):");
            md.AppendLine();
            md.AppendLine("| mode | conc. | through the gateway /s | p50 | p99 ms | straight to the orchestrator /s | p50 | p99 ms | rate ratio | p50 added ms |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var g in Reads.Where(r => r.Route == "gateway"))
            {
                var d = Reads.FirstOrDefault(r => r.Mode == g.Mode && r.Route == "direct" && r.Concurrency == g.Concurrency);
                if (d is null)
                    continue;
                md.AppendLine($"| {g.Mode} | {g.Concurrency} | {F(g.PerSecond)} | {F(g.Answer.P50)} | {F(g.Answer.P99)} | {F(d.PerSecond)} | {F(d.Answer.P50)} | {F(d.Answer.P99)} | {g.PerSecond / d.PerSecond:P0} | {g.Answer.P50 - d.Answer.P50:+0.00;-0.00} |");
            }
            md.AppendLine();
        }
        if (Tasks.Count > 0)
        {
            md.AppendLine("**vm.create** as a tenant writer (tenant without limits, distinct names), through the gateway and straight to the orchestrator:");
            md.AppendLine();
            md.AppendLine("| mode | route | conc. | accepted/s | 202 p50 | p95 | p99 ms | completed/s | submit→SUCCESS p50 | p99 ms | failures | CPU s per process |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
            foreach (var t in Tasks)
            {
                var failures = t.FailuresByCode.Count == 0 ? "none" : string.Join(", ", t.FailuresByCode.Select(f => $"{f.Key} ×{f.Value}"));
                var cpu = string.Join(", ", t.CpuSeconds.Select(p => $"{p.Key} {F(p.Value)}"));
                md.AppendLine($"| {t.Mode} | {t.Route} | {t.Concurrency} | {F(t.AcceptedPerSecond)} | {F(t.Answer202.P50)} | {F(t.Answer202.P95)} | {F(t.Answer202.P99)} | {F(t.CompletedPerSecond)} | {F(t.SubmitToSuccess.P50)} | {F(t.SubmitToSuccess.P99)} | {failures} | {cpu} |");
            }
            md.AppendLine();
        }
        AppendCpuPerTask(md);
        if (Tasks.Count > 0)
        {
            md.AppendLine("**Where a task's time goes**: median ms in each segment of the SUCCESS tasks' timelines (from the client's POST to the saga's first state, then each state until the next):");
            md.AppendLine();
            var labels = Tasks.SelectMany(t => t.StateMedianMs.Keys).Distinct().ToList();
            md.AppendLine("| mode | route | conc. | " + string.Join(" | ", labels) + " |");
            md.AppendLine("| --- | --- | ---: | " + string.Join(" | ", labels.Select(_ => "---:")) + " |");
            foreach (var t in Tasks)
                md.AppendLine($"| {t.Mode} | {t.Route} | {t.Concurrency} | " + string.Join(" | ", labels.Select(l => t.StateMedianMs.TryGetValue(l, out var v) ? F(v) : "")) + " |");
            md.AppendLine();
            md.AppendLine("Peak memory (MB): " + string.Join("; ", PeakMemoryMB.Select(m => $"{m.Key}: " + string.Join(", ", m.Value.Select(p => $"{p.Key} {p.Value}")))) + ".");
            md.AppendLine();
        }
        if (Growth is not null)
            AppendGrowth(md, Growth);
        if (Dispatch.Count > 0)
        {
            md.AppendLine("**Script dispatch** of the same small action script (`bench.echo`):");
            md.AppendLine();
            md.AppendLine("| way | conc. | calls | per call p50 ms | p99 ms | calls/s |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var d in Dispatch)
                md.AppendLine($"| {d.Way} | {d.Concurrency} | {d.Calls} | {F(d.PerCall.P50)} | {F(d.PerCall.P99)} | {F(d.PerSecond)} |");
            md.AppendLine();
        }
        md.AppendLine("**Targets** (a missed target is a finding):");
        md.AppendLine();
        md.AppendLine("| target | goal | measured | met |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var target in Targets.Where(t => t.Issue is null))
            md.AppendLine($"| {target.Name} | {target.Goal} | {target.Measured} | {(target.Met ? "yes" : "**no**")} |");
        var issue12 = Targets.Where(t => t.Issue == 12).ToList();
        if (issue12.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("**Issue 12 targets** (the cost of the task pipeline), from the figures above: the figure, its target, and whether it is met:");
            md.AppendLine();
            md.AppendLine("| target | figure | goal | met |");
            md.AppendLine("| --- | --- | --- | --- |");
            foreach (var target in issue12)
                md.AppendLine($"| {target.Name} | {target.Measured} | {target.Goal} | {(target.Met ? "met" : "**missed**")} |");
        }
        return md.ToString();
    }

    /// <summary>Process names in a stable order: gateway, orchestrator, the agents, then anything else (devhost).</summary>
    private static List<string> ProcessColumns(IEnumerable<string> names)
        => names.Distinct().OrderBy(n => n switch { "gateway" => 0, "orchestrator" => 1, _ when n.Contains("agent", StringComparison.Ordinal) => 2, _ => 3 })
            .ThenBy(n => n, StringComparer.Ordinal).ToList();

    private void AppendCpuPerTask(StringBuilder md)
    {
        if (Tasks.Count == 0)
            return;
        md.AppendLine("**CPU per task**: milliseconds of CPU (user + system) each process spent per completed (SUCCESS) vm.create, from the first POST of a run until none of its tasks was in flight, its idle work (heartbeats, sweeps) over that window included; _others %_ is the share of the machine that processes outside the stack, the bench and the broker took meanwhile (a figure measured beside other work is a figure of a smaller machine):");
        md.AppendLine();
        var columns = ProcessColumns(Tasks.SelectMany(t => t.CpuSeconds.Keys));
        md.AppendLine("| mode | route | conc. | completed | window s | " + string.Join(" | ", columns) + " | all | others % |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | " + string.Join(" | ", columns.Select(_ => "---:")) + " | ---: | ---: |");
        foreach (var t in Tasks)
        {
            var perTask = t.CpuMsPerTask;
            md.AppendLine($"| {t.Mode} | {t.Route} | {t.Concurrency} | {t.Succeeded} | {F(t.WindowSeconds)} | " +
                string.Join(" | ", columns.Select(c => perTask.TryGetValue(c, out var ms) ? F(ms) : "")) + $" | {F(perTask.Values.Sum())} | {F(t.OthersPercent)} |");
        }
        md.AppendLine();
        if (IdleCpuMsPerSecond is { Count: > 0 })
        {
            md.AppendLine("With no task running (5 s after the warm-up, once the control plane's CPU had settled) the processes spent, in ms of CPU per second: " +
                string.Join("; ", IdleCpuMsPerSecond.Select(m => $"{m.Key}: " + string.Join(", ", m.Value.Select(p => $"{p.Key} {F(p.Value)}")))) +
                " (times the window over the tasks, that is each process's idle share of the figures above).");
            md.AppendLine();
        }
    }

    private static string StoreLabel(GrowthFigures growth, string store) => store switch
    {
        GrowthFigures.Empty => "empty",
        GrowthFigures.History => $"{growth.HistoryTasks:N0} finished tasks",
        GrowthFigures.Agents => $"{growth.HistoryTasks:N0} finished tasks + {growth.IdleAgents:N0} idle agents",
        _ => store,
    };

    private static void AppendGrowth(StringBuilder md, GrowthFigures growth)
    {
        md.AppendLine("**Cost growth**: whether a task costs more as the store fills: 202 answer times and CPU per completed vm.create (ms per process) " +
                      "of the same tenant, on an empty store, then with its history of finished tasks and their committed quota holds, then also with idle agents in every election:");
        md.AppendLine();
        var columns = ProcessColumns(growth.Points.SelectMany(p => p.CpuSeconds.Keys));
        md.AppendLine("| store | conc. | accepted/s | 202 p50 | p95 | p99 ms | completed | window s | " + string.Join(" | ", columns.Select(c => c + " ms/task")) + " | orchestrator idle ms/s | others % | failures |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | " + string.Join(" | ", columns.Select(_ => "---:")) + " | ---: | ---: | --- |");
        foreach (var p in growth.Points)
        {
            var perTask = p.CpuMsPerTask;
            var failures = p.FailuresByCode.Count == 0 ? "none" : string.Join(", ", p.FailuresByCode.Select(f => $"{f.Key} ×{f.Value}"));
            md.AppendLine($"| {StoreLabel(growth, p.Store)} | {p.Concurrency} | {F(p.AcceptedPerSecond)} | {F(p.Answer202.P50)} | {F(p.Answer202.P95)} | {F(p.Answer202.P99)} | " +
                          $"{p.Completed} | {F(p.WindowSeconds)} | " + string.Join(" | ", columns.Select(c => perTask.TryGetValue(c, out var ms) ? F(ms) : "")) +
                          $" | {(p.IdleCpuMsPerSecond.TryGetValue("orchestrator", out var idle) ? F(idle) : "")} | {F(p.OthersPercent)} | {failures}{(p.ByEvents ? "" : " (end seen by polling the API)")} |");
        }
        md.AppendLine();
        md.AppendLine($"Conditions: {growth.Conditions}. Listing check of the seeded tasks: {growth.ListingCheck}. " +
                      $"Idle agents registered and fresh in {F(growth.AgentsRegisteredSeconds)} s; {growth.IdleHeartbeatsSent:N0} heartbeats sent" +
                      (growth.IdleHeartbeatsFailed > 0 ? $", {growth.IdleHeartbeatsFailed:N0} failed" : "") + ".");
        md.AppendLine();
    }

    public static IReadOnlyList<Target> Evaluate(IReadOnlyList<RoundTrips> broker, IReadOnlyList<BareRun> bare, IReadOnlyList<ReadRun> reads,
        IReadOnlyList<TaskRun> tasks, IReadOnlyList<DispatchFigures> dispatch, GrowthFigures? growth)
    {
        var targets = new List<Target>();
        var peakBroker = broker.OrderByDescending(b => b.PerSecond).FirstOrDefault();
        var rabbitGateway = tasks.Where(t => t is { Mode: "rabbitmq", Route: "gateway" }).ToList();
        if (peakBroker is not null && rabbitGateway.Count > 0)
        {
            var best = rabbitGateway.Max(t => t.CompletedPerSecond);
            var share = best / peakBroker.PerSecond;
            targets.Add(new Target("completed vm.create/s in rabbitmq mode vs raw broker round trips/s", "≥ 25 %",
                $"{F(best)} / {F(peakBroker.PerSecond)} = {share:P1}", share >= 0.25, Value: Latency.Round(share), Limit: 0.25));
        }
        targets.AddRange(Issue12(broker, bare, reads, tasks, growth));
        // The same points through the gateway and past it: (what, mode, concurrency, rate, p50).
        var points = tasks.Select(t => (What: "vm.create submissions", t.Mode, t.Route, t.Concurrency, Rate: t.AcceptedPerSecond, P50: t.Answer202.P50))
            .Concat(reads.Select(r => (What: "reads", r.Mode, r.Route, r.Concurrency, Rate: r.PerSecond, P50: r.Answer.P50))).ToList();
        foreach (var gateway in points.Where(p => p.Route == "gateway"))
        {
            var direct = points.FirstOrDefault(p => p.What == gateway.What && p.Mode == gateway.Mode && p.Route == "direct" && p.Concurrency == gateway.Concurrency);
            if (direct.What is null)
                continue;
            var ratio = gateway.Rate / direct.Rate;
            var added = gateway.P50 - direct.P50;
            targets.Add(new Target($"gateway cost on {gateway.What}, {gateway.Mode} at {gateway.Concurrency}", "≥ 90 % of direct rate, ≤ 2 ms added to p50",
                $"{ratio:P0} of the rate, {added:+0.00;-0.00} ms", ratio >= 0.9 && added <= 2));
        }
        var warm = dispatch.FirstOrDefault(d => d.Way.StartsWith("agent task path", StringComparison.Ordinal) && d.Concurrency == 1);
        var pwsh = dispatch.FirstOrDefault(d => d.Way.StartsWith("pwsh", StringComparison.Ordinal) && d.Concurrency == 1);
        if (warm is not null && pwsh is not null)
        {
            var ratio = pwsh.PerCall.P50 / warm.PerCall.P50;
            targets.Add(new Target("agent task path (warm runspace) vs pwsh process per call, per task", "≥ 500× faster",
                $"{F(warm.PerCall.P50)} ms vs {F(pwsh.PerCall.P50)} ms = {ratio:0}×", ratio >= 500));
        }
        return targets;
    }

    /// <summary>
    /// Issue 12's targets: the orchestrator's CPU per task, the 202 against the floor (broker round trip, bare 202, a read
    /// through the same gateway), throughput at 64 clients against the broker's, and the cost growth with history and agents.
    /// </summary>
    private static IEnumerable<Target> Issue12(IReadOnlyList<RoundTrips> broker, IReadOnlyList<BareRun> bare, IReadOnlyList<ReadRun> reads,
        IReadOnlyList<TaskRun> tasks, GrowthFigures? growth)
    {
        Target Check(string name, string goal, string measured, double value, double limit, bool atLeast = false)
            => new(name, goal, measured, atLeast ? value >= limit : value <= limit, 12, Latency.Round(value), Latency.Round(limit));

        foreach (var level in tasks.Where(t => t.Mode == "rabbitmq").Select(t => t.Concurrency).Distinct())
        {
            var runs = tasks.Where(t => t.Mode == "rabbitmq" && t.Concurrency == level && t.Succeeded > 0).ToList();
            if (runs.Count == 0)
                continue;
            var worst = runs.Max(t => t.CpuMsPerTask.GetValueOrDefault("orchestrator"));
            yield return Check($"orchestrator CPU per completed vm.create, rabbitmq at {level}", "≤ 2 ms",
                string.Join(", ", runs.Select(t => $"{t.Route} {F(t.CpuMsPerTask.GetValueOrDefault("orchestrator"))} ms")), worst, 2);
        }

        var gateway1 = tasks.FirstOrDefault(t => t is { Mode: "rabbitmq", Route: "gateway", Concurrency: 1 });
        var read1 = reads.FirstOrDefault(r => r is { Mode: "rabbitmq", Route: "gateway", Concurrency: 1 });
        var broker1 = broker.FirstOrDefault(b => b.Window == 1);
        var bare1 = bare.FirstOrDefault(b => b.Concurrency == 1);
        if (gateway1 is not null && read1 is not null)
        {
            var ratio = gateway1.Answer202.P50 / read1.Answer.P50;
            yield return Check("202 p50 at 1 client (rabbitmq, gateway) vs the p50 of a tenant's read through the same gateway", "≤ 4×",
                $"{F(gateway1.Answer202.P50)} ms vs {F(read1.Answer.P50)} ms = {ratio:0.0}×", ratio, 4);
        }
        if (gateway1 is not null && broker1 is not null && bare1 is not null)
        {
            var floor = broker1.Latency.P50 + bare1.Answer.P50;
            var ratio = gateway1.Answer202.P50 / floor;
            yield return Check("202 p50 at 1 client (rabbitmq, gateway) vs broker round-trip p50 at 1 in flight + bare 202 p50 at 1", "≤ 2×",
                $"{F(gateway1.Answer202.P50)} ms vs {F(broker1.Latency.P50)} + {F(bare1.Answer.P50)} ms = {ratio:0.0}×", ratio, 2);
        }

        var broker64 = broker.FirstOrDefault(b => b.Window == 64);
        var rabbit64 = tasks.FirstOrDefault(t => t is { Mode: "rabbitmq", Route: "gateway", Concurrency: 64 });
        if (broker64 is not null && rabbit64 is not null)
        {
            var ratio = rabbit64.Answer202.P99 / broker64.Latency.P99;
            yield return Check("202 p99 at concurrency 64 (rabbitmq, gateway) vs broker round-trip p99 at 64 in flight", "≤ 2×",
                $"{F(rabbit64.Answer202.P99)} ms vs {F(broker64.Latency.P99)} ms = {ratio:0.0}×", ratio, 2);
            var share = rabbit64.AcceptedPerSecond / broker64.PerSecond;
            yield return Check("accepted vm.create/s at 64 clients (rabbitmq, gateway) vs raw broker round trips/s at 64 in flight", "≥ 25 %",
                $"{F(rabbit64.AcceptedPerSecond)} / {F(broker64.PerSecond)} = {share:P1}", share, 0.25, atLeast: true);
        }

        if (growth is null)
            yield break;
        GrowthPoint? At(string store, int level) => growth.Points.FirstOrDefault(p => p.Store == store && p.Concurrency == level);
        var empty1 = At(GrowthFigures.Empty, 1);
        var history1 = At(GrowthFigures.History, 1);
        var agents1 = At(GrowthFigures.Agents, 1);
        if (empty1 is not null && history1 is not null)
        {
            var ratio = history1.Answer202.P50 / empty1.Answer202.P50;
            yield return Check($"cost growth: 202 p50 at 1 client with {growth.HistoryTasks:N0} finished tasks vs an empty store", "≤ 1.2×",
                $"{F(history1.Answer202.P50)} ms vs {F(empty1.Answer202.P50)} ms = {ratio:0.00}×", ratio, 1.2);
        }
        foreach (var level in growth.Points.Select(p => p.Concurrency).Distinct())
        {
            var empty = At(GrowthFigures.Empty, level);
            var history = At(GrowthFigures.History, level);
            if (empty is null || history is null || empty.OrchestratorCpuMsPerTask <= 0)
                continue;
            var ratio = history.OrchestratorCpuMsPerTask / empty.OrchestratorCpuMsPerTask;
            yield return Check($"cost growth: orchestrator CPU per completed task at {level} with {growth.HistoryTasks:N0} finished tasks vs an empty store", "≤ 1.2×",
                $"{F(history.OrchestratorCpuMsPerTask)} ms vs {F(empty.OrchestratorCpuMsPerTask)} ms = {ratio:0.00}×", ratio, 1.2);
        }
        if (history1 is not null && agents1 is not null)
        {
            var added = agents1.Answer202.P50 - history1.Answer202.P50;
            yield return Check($"cost growth: {growth.IdleAgents:N0} idle registered agents in the election, added to the 202 p50 at 1 client (vs the same store without them)", "≤ +1 ms",
                $"{F(agents1.Answer202.P50)} ms vs {F(history1.Answer202.P50)} ms = {added:+0.00;-0.00} ms", added, 1);
        }
    }
}
