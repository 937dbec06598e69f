using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenHvx.Bench.Stack;

namespace OpenHvx.Bench.Load;

/// <summary>
/// How much one tenant can slow another (<c>--fairness</c>): a calm tenant's reads alone, then while a noisy tenant posts
/// 1 MB bodies as fast as 16 workers can, with the gateway's per-tenant fairness at its defaults (the workers honouring
/// Retry-After, or posting again at once) and switched off.
/// </summary>
public static class FairnessRun
{
    public sealed record Figures(string Fairness, Latency Alone, Latency Flooded, double NoisyMBPerSecond, int NoisyRefused, int NoisyAnswered)
    {
        public double P50Ratio => Flooded.P50 / Math.Max(0.001, Alone.P50);
        public double P99Ratio => Flooded.P99 / Math.Max(0.001, Alone.P99);
    }

    private static readonly Dictionary<string, string> Off = new()
    {
        ["Gateway__Fairness__MaxInFlight"] = "100000",
        ["Gateway__Fairness__QueueLimit"] = "100000",
        ["Gateway__Fairness__BodyBytesBurst"] = int.MaxValue.ToString(CultureInfo.InvariantCulture),
        ["Gateway__Fairness__BodyBytesPerSecond"] = int.MaxValue.ToString(CultureInfo.InvariantCulture),
    };

    public static async Task<IReadOnlyList<Figures>> RunAsync(string root, int reads, Action<string> say)
    {
        var results = new List<Figures>();
        foreach (var (name, settings, polite) in new[] { ("defaults", new Dictionary<string, string>(), true), ("defaults, retrying at once", new(), false), ("off", Off, true) })
        {
            var folder = Path.Combine(root, "fairness-" + results.Count);
            Directory.CreateDirectory(folder);
            await using var stack = await PlatformStack.StartDevHostAsync(folder, agentConcurrency: 4, settings, keepFairness: true);
            using var admin = await stack.AdminClientAsync(stack.OrchestratorUrl);
            var calmToken = await stack.CreateTenantAsync(admin, "calm");
            var noisyToken = await stack.CreateTenantAsync(admin, "noisy");
            using var calm = TaskLoad.Client(stack.GatewayUrl, calmToken, 4);
            await TaskLoad.GetAsync(calm, "/api/v1/tenant/quotas", 200, 4);

            var (alone, _) = await TaskLoad.GetAsync(calm, "/api/v1/tenant/quotas", reads, 4);

            using var noisy = TaskLoad.Client(stack.GatewayUrl, noisyToken, 16);
            using var stop = new CancellationTokenSource();
            var body = JsonSerializer.Serialize(new { action = "vm.create", data = new { name = "flood", cloudInit = new { runcmd = new[] { new string('x', 1_000_000) } } } });
            var bytes = Encoding.UTF8.GetByteCount(body);
            var answered = 0;
            var refused = 0;
            var flooding = Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await noisy.PostAsync("/api/v1/tenant/tasks", new StringContent(body, Encoding.UTF8, "application/json"), stop.Token);
                        Interlocked.Increment(ref answered);
                        if ((int)response.StatusCode == 429)
                        {
                            Interlocked.Increment(ref refused);
                            // A well-behaved client waits as told; a hostile one posts again at once.
                            if (polite)
                                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), stop.Token);
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                    {
                    }
                }
            }));
            await Task.Delay(1000);
            var started = DateTime.UtcNow;
            var answeredBefore = Volatile.Read(ref answered);
            var refusedBefore = Volatile.Read(ref refused);
            var (flooded, _) = await TaskLoad.GetAsync(calm, "/api/v1/tenant/quotas", reads, 4);
            var seconds = (DateTime.UtcNow - started).TotalSeconds;
            var accepted = (Volatile.Read(ref answered) - answeredBefore) - (Volatile.Read(ref refused) - refusedBefore);
            await stop.CancelAsync();
            await flooding;

            var figures = new Figures(name, Latency.Of(alone.Select(a => a.AnswerMs)), Latency.Of(flooded.Select(a => a.AnswerMs)),
                Latency.Round(accepted * (double)bytes / 1024 / 1024 / seconds), Volatile.Read(ref refused) - refusedBefore, Volatile.Read(ref answered) - answeredBefore);
            results.Add(figures);
            say($"fairness {name}: calm reads p50 {figures.Alone.P50} -> {figures.Flooded.P50} ms ({figures.P50Ratio:0.0}x), " +
                $"p99 {figures.Alone.P99} -> {figures.Flooded.P99} ms ({figures.P99Ratio:0.0}x); noisy got {figures.NoisyMBPerSecond:0.0} MB/s through, {figures.NoisyRefused} of {figures.NoisyAnswered} refused");
        }
        return results;
    }

    public static string ToMarkdown(IReadOnlyList<Figures> figures, string conditions)
    {
        var text = new StringBuilder();
        text.AppendLine(conditions).AppendLine();
        text.AppendLine("| fairness | calm reads alone p50 / p99 ms | while flooded p50 / p99 ms | slowdown p50 / p99 | noisy MB/s through | noisy refused |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var f in figures)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {f.Fairness} | {f.Alone.P50} / {f.Alone.P99} | {f.Flooded.P50} / {f.Flooded.P99} | {f.P50Ratio:0.0}x / {f.P99Ratio:0.0}x | {f.NoisyMBPerSecond:0.0} | {f.NoisyRefused} of {f.NoisyAnswered} |"));
        }
        return text.ToString();
    }
}
