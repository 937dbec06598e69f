using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenHvx.Bench.Dispatch;
using OpenHvx.Bench.Floor;
using OpenHvx.Bench.Growth;
using OpenHvx.Bench.Load;
using OpenHvx.Bench.Report;
using OpenHvx.Bench.Spread;
using OpenHvx.Bench.Stack;
using OpenHvx.Testing;

if (args.Length == 2 && args[0] == BareEndpoint.Argument)
{
    await BareEndpoint.ServeAsync(args[1]);
    return 0;
}

var options = BenchOptions.Parse(args);
var clock = Stopwatch.StartNew();
var root = Path.Combine(Path.GetTempPath(), "openhvx-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(root);
void Say(string line) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {line}");

if (options.Fairness)
{
    var figures = await FairnessRun.RunAsync(root, 2000, Say);
    var when = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
    var build = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
    var markdown = FairnessRun.ToMarkdown(figures,
        $"Fairness run of {when} UTC on {Environment.ProcessorCount} cores, .NET {Environment.Version}, commit {Git("rev-parse --short HEAD")}, {build} build; " +
        "DevHost; the calm tenant reads GET /api/v1/tenant/quotas through the gateway with 4 clients (2,000 reads); the noisy tenant posts 1 MB " +
        "vm.create bodies (refused by validation) with 16 workers, which honour Retry-After or post again at once.");
    Directory.CreateDirectory(options.Output);
    await File.WriteAllTextAsync(Path.Combine(options.Output, "fairness.md"), markdown);
    Console.WriteLine();
    Console.WriteLine(markdown);
    return 0;
}

if (options.Spread)
{
    var figures = await SpreadRun.RunAsync(Path.Combine(root, "spread"), options.Agents, options.AgentConcurrency, 16, options.SpreadCount, Say);
    var md = new System.Text.StringBuilder();
    md.AppendLine($"Spread run of {DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC on {Environment.ProcessorCount} cores, " +
                  $".NET {Environment.Version}, commit {Git("rev-parse --short HEAD")}, load average {LoadAverage()}.");
    md.AppendLine();
    SpreadRun.AppendMarkdown(md, figures);
    Directory.CreateDirectory(options.Output);
    await File.WriteAllTextAsync(Path.Combine(options.Output, "spread.md"), md.ToString());
    await File.WriteAllTextAsync(Path.Combine(options.Output, "spread.json"), JsonSerializer.Serialize(figures, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
    Console.WriteLine();
    Console.WriteLine(md);
    return 0;
}

var conditions = new Conditions(
    DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
    Environment.MachineName, Environment.ProcessorCount, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1024 / 1024,
    System.Runtime.InteropServices.RuntimeInformation.OSDescription, Environment.Version.ToString(),
    await BenchBroker.VersionAsync(), Git("rev-parse --short HEAD"),
    new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name,
    options.Levels, options.Counts, options.Agents, options.AgentConcurrency, "vm.create of 1 vCPU, 512 MB, the default image");
var loadAtStart = LoadAverage();

// 1. The floor: the broker's own round trip and a bare 202 endpoint, in the same run.
var broker = new List<RoundTrips>();
var bare = new List<BareRun>();
if ((options.Modes.Contains("rabbitmq") && !options.GrowthOnly) || options.Floor)
{
    await using var floorBroker = await BenchBroker.CreateAsync();
    foreach (var (level, index) in options.Levels.Select((l, i) => (l, i)))
    {
        await RabbitFloor.MeasureAsync(floorBroker.Url, level, Math.Min(200, level * 20)); // warm-up
        var figures = await RabbitFloor.MeasureAsync(floorBroker.Url, level, Math.Max(2000, level * 250));
        broker.Add(figures);
        Say($"broker round trips, {level} in flight: {figures.PerSecond:0}/s, p50 {figures.Latency.P50} ms, p99 {figures.Latency.P99} ms");
    }
}
if (!options.GrowthOnly || options.Floor)
{
    var url = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
    var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
    info.ArgumentList.Add(typeof(BareEndpoint).Assembly.Location);
    info.ArgumentList.Add(BareEndpoint.Argument);
    info.ArgumentList.Add(url);
    using var server = Process.Start(info)!;
    try
    {
        await WaitForAsync(url + "/health/ready");
        foreach (var (level, index) in options.Levels.Select((l, i) => (l, i)))
        {
            using var client = TaskLoad.Client(url, null, level);
            await TaskLoad.PostAsync(client, "/tasks", 200, level, _ => Body("warmup"));
            var count = Math.Max(2000, level * 250);
            var (submissions, seconds) = await TaskLoad.PostAsync(client, "/tasks", count, level, i => Body($"bare-{i}"));
            var run = new BareRun(level, count, Latency.Round(count / seconds), Latency.Of(submissions.Select(s => s.AnswerMs)));
            bare.Add(run);
            Say($"bare 202 at {level}: {run.PerSecond:0}/s, p50 {run.Answer.P50} ms, p99 {run.Answer.P99} ms");
        }
    }
    finally
    {
        server.Kill(entireProcessTree: true);
    }
}

// 2. The platform: vm.create through the gateway and straight to the orchestrator, per mode and level.
var tasks = new List<TaskRun>();
var reads = new List<ReadRun>();
var peakMemory = new Dictionary<string, IReadOnlyDictionary<string, long>>();
var idleCpu = new Dictionary<string, IReadOnlyDictionary<string, double>>();
foreach (var mode in options.GrowthOnly ? [] : options.Modes)
{
    var folder = Path.Combine(root, mode);
    Directory.CreateDirectory(folder);
    await using var modeBroker = mode == "rabbitmq" ? await BenchBroker.CreateAsync() : null;
    await using var stack = mode == "devhost"
        ? await PlatformStack.StartDevHostAsync(folder, options.AgentConcurrency)
        : await PlatformStack.StartRabbitMqAsync(folder, modeBroker!.Url, options.Agents, options.AgentConcurrency);
    Say($"{mode}: up ({string.Join(", ", stack.Processes.Select(p => p.Name))})");
    using var admin = await stack.AdminClientAsync(stack.OrchestratorUrl);

    // Warm-up: the first tasks pay for JIT, connection pools and the first runspaces. Methods reach the second JIT tier only
    // after enough calls and a pause in first-tier compiling, about a hundred tasks; before that the CPU per task is the JIT's.
    var warmToken = await stack.CreateTenantAsync(admin, $"warm-{mode}");
    using (var warm = TaskLoad.Client(stack.GatewayUrl, warmToken, 16))
    {
        await TaskLoad.PostAsync(warm, "/api/v1/tenant/tasks", 96, 16, i => VmCreate($"warm-{i}"));
        await TaskLoad.WaitForIdleAsync(admin, $"warm-{mode}", TimeSpan.FromMinutes(3));
        await TaskLoad.PostAsync(warm, "/api/v1/tenant/tasks", 16, 1, i => VmCreate($"warm-1-{i}"));
        await TaskLoad.WaitForIdleAsync(admin, $"warm-{mode}", TimeSpan.FromMinutes(2));
    }

    // What each process spends with no task running (heartbeats, sweeps): its share of the CPU per task below.
    idleCpu[mode] = await stack.IdleCpuAsync(TimeSpan.FromSeconds(5));
    Say($"{mode} idle: " + string.Join(", ", idleCpu[mode].Select(p => $"{p.Key} {p.Value:0.0} ms/s")));

    // The gateway's own cost, on a read that involves no agent: the same GET through it and past it.
    var readToken = await stack.CreateTenantAsync(admin, $"read-{mode}");
    foreach (var level in options.Levels)
    {
        foreach (var route in new[] { "gateway", "direct" })
        {
            using var client = TaskLoad.Client(route == "gateway" ? stack.GatewayUrl : stack.OrchestratorUrl, readToken, level);
            await TaskLoad.GetAsync(client, "/api/v1/tenant/quotas", 200, level);
            var (answers, seconds) = await TaskLoad.GetAsync(client, "/api/v1/tenant/quotas", Math.Max(2000, level * 100), level);
            var run = new ReadRun(mode, route, level, answers.Count, Latency.Round(answers.Count / seconds), Latency.Of(answers.Select(a => a.AnswerMs)),
                answers.Count(a => a.Status != 200));
            reads.Add(run);
            Say($"{mode} reads {route} at {level}: {run.PerSecond:0}/s, p50 {run.Answer.P50} ms, p99 {run.Answer.P99} ms");
        }
    }

    foreach (var (level, index) in options.Levels.Select((l, i) => (l, i)))
    {
        foreach (var route in new[] { "gateway", "direct" })
        {
            var tenantId = $"{mode[..3]}-{route[..3]}-{level}";
            var token = await stack.CreateTenantAsync(admin, tenantId);
            using var client = TaskLoad.Client(route == "gateway" ? stack.GatewayUrl : stack.OrchestratorUrl, token, level);
            var before = stack.Usage();
            var machineBefore = MachineLoad.Take();
            var window = Stopwatch.StartNew();
            var (submissions, seconds) = await TaskLoad.PostAsync(client, "/api/v1/tenant/tasks", options.Counts[index], level, i => VmCreate($"{tenantId}-{i}"));
            var accepted = submissions.Where(s => s.Status == 202 && s.TaskId is not null).ToList();
            // The CPU window ends when no task is in flight any more, before the bench reads every task back.
            await TaskLoad.WaitForIdleAsync(admin, tenantId, TimeSpan.FromMinutes(5));
            var after = stack.Usage();
            var machineAfter = MachineLoad.Take();
            var cpu = after.ToDictionary(p => p.Key, p => Latency.Round(p.Value.CpuSeconds - before[p.Key].CpuSeconds));
            var windowSeconds = Latency.Round(window.Elapsed.TotalSeconds);
            var final = await TaskLoad.ReadFinalAsync(admin, tenantId);

            var succeeded = accepted.Where(s => final.TryGetValue(s.TaskId!.Value, out var t) && t.GetProperty("status").GetString() == "SUCCESS").ToList();
            var finishedAt = succeeded.Select(s => final[s.TaskId!.Value].GetProperty("finishedAt").GetDateTimeOffset()).ToList();
            var firstSubmit = submissions.Min(s => s.SubmittedAt);
            var e2e = succeeded.Select(s => (final[s.TaskId!.Value].GetProperty("finishedAt").GetDateTimeOffset() - s.SubmittedAt).TotalMilliseconds);
            var failures = submissions.Where(s => s.Status != 202).Select(s => s.Code ?? "HTTP_" + s.Status)
                .Concat(accepted.Where(s => final.TryGetValue(s.TaskId!.Value, out var t) && t.GetProperty("status").GetString() == "FAILED")
                    .Select(s => final[s.TaskId!.Value].GetProperty("error").GetProperty("code").GetString() ?? "FAILED"))
                .Concat(accepted.Where(s => !final.ContainsKey(s.TaskId!.Value)).Select(_ => "UNFINISHED"))
                .GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
            var run = new TaskRun(mode, route, level, submissions.Count, accepted.Count, Latency.Round(accepted.Count / seconds),
                Latency.Of(submissions.Select(s => s.AnswerMs)), succeeded.Count,
                finishedAt.Count == 0 ? 0 : Latency.Round(succeeded.Count / (finishedAt.Max() - firstSubmit).TotalSeconds),
                Latency.Of(e2e), failures,
                cpu, TaskTimeline.Medians(succeeded.Select(s => (s.SubmittedAt, final[s.TaskId!.Value]))), windowSeconds,
                MachineLoad.OthersPercent(machineBefore, machineAfter, cpu.Values.Sum()));
            tasks.Add(run);
            Say($"{mode} {route} at {level}: accepted {run.AcceptedPerSecond:0.0}/s (202 p50 {run.Answer202.P50} ms, p99 {run.Answer202.P99} ms), " +
                $"completed {run.CompletedPerSecond:0.0}/s (p50 {run.SubmitToSuccess.P50} ms), failures {failures.Count}, others {run.OthersPercent} % of the machine");
        }
    }
    peakMemory[mode] = stack.Usage().ToDictionary(p => p.Key, p => p.Value.PeakMemoryMB);
}

// 3. Cost growth (issue 12): the same tenant's tasks on an empty store, with a long history, with many idle agents.
GrowthFigures? growth = null;
if (!options.SkipGrowth && (options.Modes.Contains("rabbitmq") || options.GrowthOnly))
{
    growth = await GrowthRun.RunAsync(Path.Combine(root, "growth"), options.Agents, options.AgentConcurrency, options.GrowthHistory, options.GrowthAgents,
        options.GrowthLevels, options.GrowthCounts, Say);
}

// 4. Script dispatch: the agent's warm runspace path against a pwsh process per call.
var dispatch = new List<DispatchFigures>();
if (!options.SkipDispatch && !options.GrowthOnly)
{
    var scripts = ScriptDispatch.PrepareScripts(Path.Combine(root, "dispatch-scripts"));
    dispatch.AddRange(await ScriptDispatch.AgentPathAsync(Path.Combine(root, "dispatch-agent"), scripts, options.DispatchCalls, options.AgentConcurrency));
    var perProcess = await ScriptDispatch.ProcessPerCallAsync(scripts, options.PwshCalls, Environment.ProcessorCount);
    if (perProcess is null)
        Say("pwsh is not installed: the process-per-call figures are missing (dotnet tool install -g PowerShell --version 7.6.9)");
    else
        dispatch.AddRange(perProcess);
    foreach (var d in dispatch)
        Say($"dispatch, {d.Way} at {d.Concurrency}: p50 {d.PerCall.P50} ms, {d.PerSecond:0.0}/s");
}

var report = new BenchReport(conditions with { LoadAverage = $"{loadAtStart} at the start, {LoadAverage()} at the end" }, broker, bare, reads, tasks, peakMemory, dispatch,
    BenchReport.Evaluate(broker, bare, reads, tasks, dispatch, growth), Latency.Round(clock.Elapsed.TotalSeconds), idleCpu, growth);
Directory.CreateDirectory(options.Output);
await File.WriteAllTextAsync(Path.Combine(options.Output, "bench.json"), report.ToJson());
await File.WriteAllTextAsync(Path.Combine(options.Output, "bench.md"), report.ToMarkdown());
Console.WriteLine();
Console.WriteLine(report.ToMarkdown());
Console.WriteLine($"Written: {Path.Combine(options.Output, "bench.json")}, {Path.Combine(options.Output, "bench.md")}");
if (options.Keep)
{
    Console.WriteLine($"Kept: {root}");
    return 0;
}
try
{
    Directory.Delete(root, recursive: true);
}
catch (IOException)
{
}
return 0;

static string Body(string name) => JsonSerializer.Serialize(new { action = "vm.create", data = new { name, cpu = 1, ram = "512MB" } });
static string VmCreate(string name) => Body(name);

static async Task WaitForAsync(string url)
{
    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
    for (var attempt = 0; attempt < 150; attempt++)
    {
        try
        {
            if ((await http.GetAsync(url)).IsSuccessStatusCode)
                return;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
        }
        await Task.Delay(200);
    }
    throw new TimeoutException($"{url} did not answer");
}

// Other work on the machine shows here (the bench's own processes are counted too).
static string LoadAverage()
{
    try
    {
        return File.ReadAllText("/proc/loadavg").Split(' ')[0];
    }
    catch (IOException)
    {
        return "unknown";
    }
}

static string Git(string arguments)
{
    try
    {
        var info = new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ServiceProcess.RepositoryRoot };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output.Length > 0 ? output : "unknown";
    }
    catch (Exception)
    {
        return "unknown";
    }
}

/// <summary>
/// Command line: <c>--modes devhost,rabbitmq --levels 1,16,64 --counts 20,96,192 --agents 2 --agent-concurrency 8 --out bench-results</c>;
/// the cost growth run (a rabbitmq-mode phase: it runs when the modes include rabbitmq, unless skipped): <c>--skip-growth</c>, <c>--growth-only</c>, <c>--growth-history 100000 --growth-agents 1000 --growth-levels 1,16 --growth-counts 200,96</c>;
/// <c>--keep</c> leaves the run's folder (databases, agent data) in place; <c>--spread [--spread-count 400]</c> runs only the burst against one
/// orchestrator and then two (bench-results/spread.md).
/// </summary>
internal sealed record BenchOptions(
    IReadOnlyList<string> Modes, IReadOnlyList<int> Levels, IReadOnlyList<int> Counts, int Agents, int AgentConcurrency,
    int DispatchCalls, int PwshCalls, bool SkipDispatch, bool Floor, string Output, bool Fairness,
    bool SkipGrowth, bool GrowthOnly, int GrowthHistory, int GrowthAgents, IReadOnlyList<int> GrowthLevels, IReadOnlyList<int> GrowthCounts, bool Keep,
    bool Spread, int SpreadCount)
{
    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name)
        {
            var index = Array.IndexOf(args, name);
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }
        List<int> Ints(string name, string fallback) => (Value(name) ?? fallback).Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
        var modes = (Value("--modes") ?? "devhost,rabbitmq").Split(',').ToList();
        if (modes.Any(m => m is not ("devhost" or "rabbitmq")))
            throw new ArgumentException("--modes takes devhost and/or rabbitmq");
        var levels = Ints("--levels", "1,16,64");
        var counts = Ints("--counts", "20,96,192");
        if (counts.Count != levels.Count)
            throw new ArgumentException("--counts needs one count per level");
        var growthLevels = Ints("--growth-levels", "1,16");
        var growthCounts = Ints("--growth-counts", "200,96");
        if (growthCounts.Count != growthLevels.Count)
            throw new ArgumentException("--growth-counts needs one count per growth level");
        var growthOnly = args.Contains("--growth-only");
        var skipGrowth = args.Contains("--skip-growth");
        if (growthOnly && skipGrowth)
            throw new ArgumentException("--growth-only and --skip-growth exclude each other");
        return new BenchOptions(modes, levels, counts, Ints("--agents", "2")[0], Ints("--agent-concurrency", "8")[0],
            Ints("--dispatch-calls", "500")[0], Ints("--pwsh-calls", "10")[0], args.Contains("--skip-dispatch"), args.Contains("--floor"),
            Value("--out") ?? Path.Combine(ServiceProcess.RepositoryRoot, "bench-results"), args.Contains("--fairness"),
            skipGrowth, growthOnly, Ints("--growth-history", "100000")[0], Ints("--growth-agents", "1000")[0], growthLevels, growthCounts,
            args.Contains("--keep"), args.Contains("--spread"), Ints("--spread-count", "400")[0]);
    }
}
