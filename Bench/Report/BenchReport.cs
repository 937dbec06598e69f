using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenHvx.Bench.Dispatch;
using OpenHvx.Bench.Floor;
using OpenHvx.Bench.Load;
using OpenHvx.Bench.Stack;
using OpenHvx.Testing;

namespace OpenHvx.Bench.Report;

public sealed record Conditions(
    string StartedAt, string Machine, int Cores, long MemoryMB, string Os, string Dotnet, string RabbitMq, string Commit, string Build,
    IReadOnlyList<int> Concurrency, IReadOnlyList<int> Counts, int Agents, int AgentConcurrency, string Vm);

/// <summary>One level of one mode through one route (the gateway, or straight to the orchestrator).</summary>
public sealed record TaskRun(
    string Mode, string Route, int Concurrency, int Submitted, int Accepted, double AcceptedPerSecond, Latency Answer202,
    int Succeeded, double CompletedPerSecond, Latency SubmitToSuccess, IReadOnlyDictionary<string, int> FailuresByCode,
    IReadOnlyDictionary<string, double> CpuSeconds, IReadOnlyDictionary<string, double> StateMedianMs);

public sealed record BareRun(int Concurrency, int Count, double PerSecond, Latency Answer);

/// <summary>GET /api/v1/tenant/quotas through the gateway or past it: the gateway's own cost, with no agent involved.</summary>
public sealed record ReadRun(string Mode, string Route, int Concurrency, int Count, double PerSecond, Latency Answer, int Failures);

public sealed record Target(string Name, string Goal, string Measured, bool Met);

public sealed record BenchReport(
    Conditions Conditions,
    IReadOnlyList<RoundTrips> Broker,
    IReadOnlyList<BareRun> BareHttp,
    IReadOnlyList<ReadRun> Reads,
    IReadOnlyList<TaskRun> Tasks,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> PeakMemoryMB,
    IReadOnlyList<DispatchFigures> Dispatch,
    IReadOnlyList<Target> Targets,
    double Seconds)
{
    private static string F(double value) => value.ToString(value >= 100 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var c = Conditions;
        md.AppendLine($"Run of {c.StartedAt} on {c.Machine}: {c.Cores} cores, {c.MemoryMB / 1024} GiB, {c.Os}, .NET {c.Dotnet}, RabbitMQ {c.RabbitMq}, commit {c.Commit}, {c.Build} build; " +
                      $"{c.Agents} agents in `rabbitmq` mode (1 in `devhost`), each running up to {c.AgentConcurrency} tasks at once on the simulated Hyper-V (no injected latency or faults); " +
                      $"{c.Vm}; concurrency {string.Join("/", c.Concurrency)} with {string.Join("/", c.Counts)} tasks. Took {F(Seconds)} s.");
        md.AppendLine();
        md.AppendLine("**Floor.** Raw RabbitMQ round trip (persistent publish with confirms to a durable queue, consume and ack, persistent reply with confirms, consume and ack) and a bare ASP.NET Core endpoint answering 202:");
        md.AppendLine();
        md.AppendLine("| in flight | broker round trips/s | p50 ms | p99 ms | bare 202/s | p50 ms | p95 ms | p99 ms |");
        md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var rt in Broker)
        {
            var bare = BareHttp.FirstOrDefault(b => b.Concurrency == rt.Window);
            md.AppendLine($"| {rt.Window} | {F(rt.PerSecond)} | {F(rt.Latency.P50)} | {F(rt.Latency.P99)} | {(bare is null ? "" : F(bare.PerSecond))} | {(bare is null ? "" : F(bare.Answer.P50))} | {(bare is null ? "" : F(bare.Answer.P95))} | {(bare is null ? "" : F(bare.Answer.P99))} |");
        }
        md.AppendLine();
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
        md.AppendLine("**Script dispatch** of the same small action script (`bench.echo`):");
        md.AppendLine();
        md.AppendLine("| way | conc. | calls | per call p50 ms | p99 ms | calls/s |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var d in Dispatch)
            md.AppendLine($"| {d.Way} | {d.Concurrency} | {d.Calls} | {F(d.PerCall.P50)} | {F(d.PerCall.P99)} | {F(d.PerSecond)} |");
        md.AppendLine();
        md.AppendLine("**Targets** (a missed target is a finding):");
        md.AppendLine();
        md.AppendLine("| target | goal | measured | met |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var target in Targets)
            md.AppendLine($"| {target.Name} | {target.Goal} | {target.Measured} | {(target.Met ? "yes" : "**no**")} |");
        return md.ToString();
    }

    public static IReadOnlyList<Target> Evaluate(IReadOnlyList<RoundTrips> broker, IReadOnlyList<ReadRun> reads, IReadOnlyList<TaskRun> tasks, IReadOnlyList<DispatchFigures> dispatch)
    {
        var targets = new List<Target>();
        var peakBroker = broker.OrderByDescending(b => b.PerSecond).FirstOrDefault();
        var rabbitGateway = tasks.Where(t => t is { Mode: "rabbitmq", Route: "gateway" }).ToList();
        if (peakBroker is not null && rabbitGateway.Count > 0)
        {
            var best = rabbitGateway.Max(t => t.CompletedPerSecond);
            var share = best / peakBroker.PerSecond;
            targets.Add(new Target("completed vm.create/s in rabbitmq mode vs raw broker round trips/s", "≥ 25 %",
                $"{F(best)} / {F(peakBroker.PerSecond)} = {share:P1}", share >= 0.25));
        }
        var broker64 = broker.FirstOrDefault(b => b.Window == 64);
        var rabbit64 = rabbitGateway.FirstOrDefault(t => t.Concurrency == 64);
        if (broker64 is not null && rabbit64 is not null)
            targets.Add(new Target("202 p99 at concurrency 64 (rabbitmq, gateway) vs broker round-trip p99 at 64 in flight", "≤ 2×",
                $"{F(rabbit64.Answer202.P99)} ms vs {F(broker64.Latency.P99)} ms = {rabbit64.Answer202.P99 / broker64.Latency.P99:0.0}×",
                rabbit64.Answer202.P99 <= 2 * broker64.Latency.P99));
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
}
