using System.Text.Json;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.HyperVAgent.Telemetry;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>The agent's task consumer on MassTransit's test harness, running the real scripts against the simulated host.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class AgentTaskConsumerTests
{
    private const string AgentId = "agent-test";
    private TempFolder _folder = null!;
    private ServiceProvider _services = null!;
    private ITestHarness _harness = null!;
    private AgentOptions _options = null!;
    private SimulatedHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new TempFolder("consumer");
        _services = AgentHost.Build(_folder.Path, new Dictionary<string, string?> { ["Agent:TransientRetryDelay"] = "00:00:00.050" }, services =>
        {
            services.AddSingleton<IHostApplicationLifetime, TestLifetime>();
            // The harness starts hosted services; heartbeats and inventory would rewrite the simulated host's config under the tests.
            services.RemoveAll<IHostedService>();
            services.AddMassTransitTestHarness(bus => bus.AddConsumer<AgentTaskConsumer>());
        });
        _harness = _services.GetRequiredService<ITestHarness>();
        _options = _services.GetRequiredService<IOptions<AgentOptions>>().Value;
        _host = _services.GetRequiredService<SimulatedHost>();
        await _host.PrepareAsync(CancellationToken.None);
        await _harness.Start();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _harness.Stop();
        await _services.DisposeAsync();
        _folder.Dispose();
    }

    private static AgentTask NewTask(string name) => new(Guid.NewGuid(), "tenant1", AgentId, ActionNames.VmCreate,
        JsonSerializer.SerializeToElement(new { name, cpu = 1, memoryMB = 1024, storageGB = 10, imageFile = DemoCatalog.Images[1].File, generation = 2 }), "");

    private async Task<AgentTaskResult> ResultOfAsync(Guid taskId, int nth = 1)
    {
        await Eventually.True(() => Task.FromResult(_harness.Published.Select<AgentTaskResult>().Count(m => m.Context.Message.TaskId == taskId) >= nth),
            TimeSpan.FromSeconds(60), $"result {nth} of {taskId}");
        return _harness.Published.Select<AgentTaskResult>().Where(m => m.Context.Message.TaskId == taskId).ToList()[nth - 1].Context.Message;
    }

    private async Task<int> VmCountAsync() => (await AgentHost.VmsAsync(_services)).Count;

    [Test]
    public async Task A_task_publishes_started_then_a_result_with_the_vm()
    {
        var task = NewTask("consumer-ok");

        await _harness.Bus.Publish(task);

        var result = await ResultOfAsync(task.TaskId);
        Assert.That(result.Ok, Is.True, result.Error?.Message);
        Assert.That(result.AgentId, Is.EqualTo(AgentId));
        Assert.That(result.StartedAt, Is.Not.Null);
        Assert.That(result.FinishedAt, Is.GreaterThanOrEqualTo(result.StartedAt!.Value));
        Assert.That(Guid.TryParse(result.Result!.Value.GetProperty("vm").GetProperty("guid").GetString(), out _), Is.True);
        Assert.That(await _harness.Published.Any<AgentTaskStarted>(m => m.Context.Message.TaskId == task.TaskId), Is.True);
    }

    [Test]
    public async Task A_redelivered_task_is_not_run_again_and_its_stored_result_is_republished()
    {
        var task = NewTask("consumer-once");
        await _harness.Bus.Publish(task);
        var first = await ResultOfAsync(task.TaskId);
        var vms = await VmCountAsync();

        await _harness.Bus.Publish(task);

        var second = await ResultOfAsync(task.TaskId, nth: 2);
        Assert.That(second.Ok, Is.True);
        Assert.That(second.Result!.Value.GetProperty("vm").GetProperty("guid").GetString(),
            Is.EqualTo(first.Result!.Value.GetProperty("vm").GetProperty("guid").GetString()));
        Assert.That(await VmCountAsync(), Is.EqualTo(vms), "the script did not run a second time");
        Assert.That(_harness.Published.Select<AgentTaskStarted>().Count(m => m.Context.Message.TaskId == task.TaskId), Is.EqualTo(1));
    }

    [Test]
    public async Task A_transient_host_error_is_retried_and_the_task_succeeds()
    {
        _options.Simulated.Faults["New-VM"] = new SimulatedFault { Message = "host busy", ErrorId = "ERR_HOST_BUSY", Times = 2 };
        _host.WriteConfig();
        try
        {
            var task = NewTask("consumer-retry");

            await _harness.Bus.Publish(task);

            var result = await ResultOfAsync(task.TaskId);
            Assert.That(result.Ok, Is.True, result.Error?.Message);
            Assert.That(File.ReadAllText(Path.Combine(_options.SimulationRoot, "fault-count.New-VM")), Is.EqualTo("3"), "two failures, then the try that succeeded");
        }
        finally
        {
            _options.Simulated.Faults.Clear();
            _host.WriteConfig();
        }
    }

    [Test]
    public async Task A_permanent_host_error_is_not_retried()
    {
        _options.Simulated.Faults["New-VM"] = new SimulatedFault { Message = "disk on fire", ErrorId = "ERR_SIMULATED_FAULT" };
        _host.WriteConfig();
        File.Delete(Path.Combine(_options.SimulationRoot, "fault-count.New-VM"));
        try
        {
            var task = NewTask("consumer-permanent");

            await _harness.Bus.Publish(task);

            var result = await ResultOfAsync(task.TaskId);
            Assert.That((result.Ok, result.Error!.Code), Is.EqualTo((false, "ERR_SIMULATED_FAULT")));
            Assert.That(result.Error.Message, Does.Contain("disk on fire"));
        }
        finally
        {
            _options.Simulated.Faults.Clear();
            _host.WriteConfig();
        }
    }

    [Test]
    public async Task A_task_for_another_agent_or_an_unknown_action_fails_with_a_clear_code()
    {
        var stranger = NewTask("consumer-stranger") with { AgentId = "someone-else" };
        var unknown = NewTask("consumer-unknown") with { Action = "vm.teleport" };

        await _harness.Bus.Publish(stranger);
        await _harness.Bus.Publish(unknown);

        Assert.That((await ResultOfAsync(stranger.TaskId)).Error!.Code, Is.EqualTo(ErrorCodes.WrongAgent));
        Assert.That((await ResultOfAsync(unknown.TaskId)).Error!.Code, Is.EqualTo(ErrorCodes.UnsupportedAction));
    }

    private sealed class TestLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() { }
    }
}

[TestFixture]
[Category("Unit")]
public sealed class VmLocksTests
{
    [Test]
    public async Task Tasks_on_one_vm_run_one_at_a_time_and_others_in_parallel()
    {
        var locks = new VmLocks();
        var first = await locks.AcquireAsync("vm:a", CancellationToken.None);
        var other = await locks.AcquireAsync("vm:b", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));

        var second = locks.AcquireAsync("vm:A", CancellationToken.None);
        Assert.That(second.IsCompleted, Is.False, "the same VM (ids compare without case) waits");

        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        other.Dispose();
        Assert.That(locks.Count, Is.Zero, "no lock outlives its users");
    }

    [Test]
    public void The_lock_key_is_the_vm_id_or_the_tenant_name_being_created()
    {
        var data = JsonSerializer.SerializeToElement(new { name = "web1" });
        Assert.That(AgentTaskConsumer.LockKey(new AgentTask(Guid.NewGuid(), "t1", "a", "vm.edit", data, "", new TaskTarget("vm", "1234", null))), Is.EqualTo("vm:1234"));
        Assert.That(AgentTaskConsumer.LockKey(new AgentTask(Guid.NewGuid(), "t1", "a", "vm.create", data, "")), Is.EqualTo("name:t1/web1"));
    }
}
