using System.Diagnostics;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenHvx.Bench.Load;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.Bench.Dispatch;

public sealed record DispatchFigures(string Way, int Calls, int Concurrency, Latency PerCall, double PerSecond);

/// <summary>
/// The same small action script (<c>bench.echo</c>): through the agent's real task path (journal, warm runspace pool,
/// result published on the bus), the runspace pool alone, and one <c>pwsh</c> process per call as the original
/// OpenHVX agent runs actions.
/// </summary>
public static class ScriptDispatch
{
    public const string Action = "bench.echo";
    private const string AgentId = "bench-agent";

    private const string Script = """
        # bench.echo: the smallest action: parameters in, one JSON line out.
        param([string]$TaskId, [string]$TenantId, [string]$BasePath, [string]$Message)
        Set-StrictMode -Version 3
        $ErrorActionPreference = 'Stop'
        [ordered]@{ taskId = $TaskId; echo = $Message } | ConvertTo-Json -Compress
        """;

    /// <summary>A scripts folder: the agent's own scripts plus <c>bench.echo.ps1</c>.</summary>
    public static string PrepareScripts(string folder)
    {
        var source = Path.Combine(Path.GetDirectoryName(OpenHvx.Testing.ServiceProcess.AssemblyOf("HyperVAgent"))!, "Scripts");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)), overwrite: true);
        File.WriteAllText(Path.Combine(folder, Action + ".ps1"), Script);
        return folder;
    }

    public static async Task<IReadOnlyList<DispatchFigures>> AgentPathAsync(string dataPath, string scripts, int calls, int concurrency)
    {
        var results = new System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource<AgentTaskResult>>();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Agent:AgentId"] = AgentId,
            ["Agent:DataPath"] = dataPath,
            ["Agent:ScriptsPath"] = scripts,
            ["Agent:Backend"] = "Simulated",
            ["Agent:MaxConcurrency"] = concurrency.ToString(),
            ["Agent:HeartbeatInterval"] = "01:00:00",
            ["Agent:InventoryInterval"] = "01:00:00",
        });
        builder.Services.AddHyperVAgent(builder.Configuration);
        builder.Services.AddSingleton(results);
        builder.Services.AddMassTransit(bus =>
        {
            bus.DisableUsageTelemetry();
            bus.AddHyperVAgentConsumers();
            bus.AddConsumer<ResultCollector>();
            bus.UsingInMemory((context, transport) =>
            {
                transport.ConfigureHyperVAgentEndpoints(context);
                transport.ConfigureEndpoints(context);
            });
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var runner = host.Services.GetRequiredService<PowerShellRunner>();
            var script = runner.ScriptPath(Action);
            var bus = host.Services.GetRequiredService<IBus>();
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:" + OpenHvx.Contracts.WireTopology.AgentQueue(AgentId)));
            var data = JsonSerializer.SerializeToElement(new { message = "hello" });

            async Task RunTaskAsync()
            {
                var task = new AgentTask(NewId.NextGuid(), "bench", AgentId, Action, data, Guid.NewGuid().ToString());
                var done = results.GetOrAdd(task.TaskId, _ => new TaskCompletionSource<AgentTaskResult>(TaskCreationOptions.RunContinuationsAsynchronously));
                await endpoint.Send(task);
                var result = await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
                if (!result.Ok)
                    throw new InvalidOperationException($"bench.echo failed: {result.Error?.Code} {result.Error?.Message}");
            }
            async Task RunScriptAsync()
            {
                var outcome = await runner.RunAsync(script, [new("TaskId", "t"), new("TenantId", "bench"), new("Message", "hello")], TimeSpan.FromSeconds(30), CancellationToken.None);
                if (!outcome.Ok)
                    throw new InvalidOperationException($"bench.echo failed: {outcome.Error?.Message}");
            }

            // Warm up both: the pool's runspaces open on first use.
            for (var i = 0; i < 20; i++)
            {
                await RunTaskAsync();
                await RunScriptAsync();
            }
            return
            [
                await MeasureAsync("agent task path (journal + warm runspace + result on the bus)", calls, 1, RunTaskAsync),
                await MeasureAsync("agent task path (journal + warm runspace + result on the bus)", calls, concurrency, RunTaskAsync),
                await MeasureAsync("warm runspace pool alone", calls, 1, RunScriptAsync),
                await MeasureAsync("warm runspace pool alone", calls, concurrency, RunScriptAsync),
            ];
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>One <c>pwsh -NoProfile -File bench.echo.ps1</c> process per call; null when pwsh is not installed.</summary>
    public static async Task<IReadOnlyList<DispatchFigures>?> ProcessPerCallAsync(string scripts, int calls, int concurrency)
    {
        var pwsh = FindPwsh();
        if (pwsh is null)
            return null;
        var script = Path.Combine(scripts, Action + ".ps1");
        async Task RunAsync()
        {
            var info = new ProcessStartInfo(pwsh) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-NoProfile", "-NonInteractive", "-File", script, "-TaskId", "t", "-TenantId", "bench", "-Message", "hello" })
                info.ArgumentList.Add(argument);
            using var process = Process.Start(info)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0 || !output.Contains("hello", StringComparison.Ordinal))
                throw new InvalidOperationException($"pwsh bench.echo failed ({process.ExitCode}): {output} {await process.StandardError.ReadToEndAsync()}");
        }
        await RunAsync(); // the first start loads pwsh from disk
        return
        [
            await MeasureAsync("pwsh process per call", calls, 1, RunAsync),
            await MeasureAsync("pwsh process per call", calls, concurrency, RunAsync),
        ];
    }

    public static string? FindPwsh()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Append(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools"))
            .Select(folder => Path.Combine(folder, "pwsh"));
        return candidates.FirstOrDefault(File.Exists);
    }

    private static async Task<DispatchFigures> MeasureAsync(string way, int calls, int concurrency, Func<Task> call)
    {
        var latencies = new double[calls];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= calls)
                    return;
                var started = Stopwatch.GetTimestamp();
                await call();
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }));
        return new DispatchFigures(way, calls, concurrency, Latency.Of(latencies), Latency.Round(calls / clock.Elapsed.TotalSeconds));
    }

    private sealed class ResultCollector(System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource<AgentTaskResult>> results) : IConsumer<AgentTaskResult>
    {
        public Task Consume(ConsumeContext<AgentTaskResult> context)
        {
            results.GetOrAdd(context.Message.TaskId, _ => new TaskCompletionSource<AgentTaskResult>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(context.Message);
            return Task.CompletedTask;
        }
    }
}
