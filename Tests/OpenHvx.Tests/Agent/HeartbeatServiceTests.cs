using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Testing;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>What the agent's heartbeats say: when they were measured, how often they come, whether the agent is stopping.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class HeartbeatServiceTests
{
    private TempFolder _folder = null!;
    private ServiceProvider _services = null!;
    private HeartbeatService _heartbeats = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new TempFolder("heartbeat");
        _services = AgentHost.Build(_folder.Path, new Dictionary<string, string?>
        {
            ["Agent:HeartbeatInterval"] = "00:00:07",
            // Measuring the host takes a while: Get-VMHost answers after 1.5 s.
            ["Agent:Simulated:LatencyMs:Get-VMHost"] = "1500",
        }, services =>
        {
            services.AddSingleton<IHostApplicationLifetime, ApplicationLifetime>();
            services.RemoveAll<IHostedService>();
            services.AddSingleton<HeartbeatService>();
            services.AddMassTransitTestHarness();
        });
        await _services.GetRequiredService<SimulatedHost>().PrepareAsync(CancellationToken.None);
        await _services.GetRequiredService<ITestHarness>().Start();
        _heartbeats = _services.GetRequiredService<HeartbeatService>();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _services.GetRequiredService<ITestHarness>().Stop();
        await _services.DisposeAsync();
        _folder.Dispose();
    }

    [Test]
    public async Task A_heartbeat_is_stamped_before_the_host_is_measured_and_tells_its_interval_and_that_the_agent_is_active()
    {
        var before = DateTimeOffset.UtcNow;
        var heartbeat = await _heartbeats.BuildAsync(CancellationToken.None);
        var after = DateTimeOffset.UtcNow;

        Assert.That(after - before, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.5)), "measuring took the injected latency");
        Assert.That(heartbeat.Ts, Is.InRange(before, before.AddSeconds(1)), "its time is from before the measurement, not after");
        Assert.That(heartbeat.Capacity, Is.Not.Null, "it measured the host");
        Assert.That((heartbeat.Status, heartbeat.IntervalSeconds), Is.EqualTo((AgentStatuses.Active, (double?)7)));
    }

    [Test]
    public async Task A_heartbeat_is_measured_while_every_runspace_of_the_tasks_is_busy()
    {
        var runner = _services.GetRequiredService<PowerShellRunner>();
        var busy = _services.GetRequiredService<IOptions<AgentOptions>>().Value.MaxConcurrency + 1;
        var script = Path.Combine(_folder.Path, "hold-runspace.ps1");
        await File.WriteAllTextAsync(script, "param([string]$Marker) Set-Content -LiteralPath $Marker -Value 'held'; Start-Sleep -Seconds 120");
        using var release = new CancellationTokenSource();
        var holders = Enumerable.Range(0, busy)
            .Select(i => runner.RunAsync(script, [new("Marker", Path.Combine(_folder.Path, $"held-{i}"))], TimeSpan.FromMinutes(3), release.Token))
            .ToList();
        try
        {
            await Eventually.True(() => Task.FromResult(Enumerable.Range(0, busy).All(i => File.Exists(Path.Combine(_folder.Path, $"held-{i}")))),
                TimeSpan.FromSeconds(60), $"all {busy} runspaces of the tasks' pool are held");

            // Measuring takes 1.5 s (Get-VMHost's latency); the tasks hold their runspaces for two minutes.
            var heartbeat = await _heartbeats.BuildAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.That(heartbeat.Capacity, Is.Not.Null, "it measured the host");
            Assert.That(holders.All(h => !h.IsCompleted), Is.True, "the tasks still hold their runspaces");
        }
        finally
        {
            await release.CancelAsync();
            await Task.WhenAll(holders);
        }
    }

    [Test]
    public async Task When_the_host_stops_a_stopping_heartbeat_is_published_at_once()
    {
        var harness = _services.GetRequiredService<ITestHarness>();
        var since = DateTimeOffset.UtcNow;

        // Within a second: it does not measure the host (1.5 s here) first.
        await _heartbeats.StoppingAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));

        Assert.That(await harness.Published.Any<AgentHeartbeat>(m => m.Context.Message.Ts >= since), Is.True);
        var published = harness.Published.Select<AgentHeartbeat>().Select(m => m.Context.Message).Where(h => h.Ts >= since).ToList();
        Assert.That(published.Select(h => h.Status), Is.EqualTo(new[] { AgentStatuses.Stopping }));
        Assert.That(published[0].Capacity, Is.Null, "a stopping agent offers no capacity");
        Assert.That(published[0].IntervalSeconds, Is.EqualTo(7));
    }
}
