using System.Text.Json;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.Messaging;
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
        _services = BuildAgent(_folder.Path);
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

    /// <summary>An agent (task consumer on a test harness) on <paramref name="dataPath"/>: its journal, simulated host and VM locks.</summary>
    private static ServiceProvider BuildAgent(string dataPath, Action<IServiceCollection>? configure = null) =>
        AgentHost.Build(dataPath, new Dictionary<string, string?> { ["Agent:TransientRetryDelay"] = "00:00:00.050" }, services =>
        {
            services.AddSingleton<IHostApplicationLifetime, TestLifetime>();
            // The harness starts hosted services; heartbeats and inventory would rewrite the simulated host's config under the tests.
            services.RemoveAll<IHostedService>();
            services.AddMassTransitTestHarness(bus =>
            {
                bus.AddConsumer<AgentTaskConsumer>();
                bus.AddConsumer<AgentTaskCancelConsumer>();
            });
            configure?.Invoke(services);
        });

    private static AgentTask NewTask(string name) => new(Guid.NewGuid(), "tenant1", AgentId, ActionNames.VmCreate,
        JsonSerializer.SerializeToElement(new { name, cpu = 1, memoryMB = 1024, storageGB = 10, imageFile = DemoCatalog.Images[1].File, generation = 2 }), "");

    private Task<AgentTaskResult> ResultOfAsync(Guid taskId, int nth = 1) => ResultOfAsync(_harness, taskId, nth);

    private static async Task<AgentTaskResult> ResultOfAsync(ITestHarness harness, Guid taskId, int nth = 1)
    {
        await Eventually.True(() => Task.FromResult(harness.Published.Select<AgentTaskResult>().Count(m => m.Context.Message.TaskId == taskId) >= nth),
            TimeSpan.FromSeconds(60), $"result {nth} of {taskId}");
        return harness.Published.Select<AgentTaskResult>().Where(m => m.Context.Message.TaskId == taskId).ToList()[nth - 1].Context.Message;
    }

    private static int StartedCount(ITestHarness harness, Guid taskId)
        => harness.Published.Select<AgentTaskStarted>().Count(m => m.Context.Message.TaskId == taskId);

    private async Task<int> VmCountAsync() => (await AgentHost.VmsAsync(_services)).Count;

    /// <summary>VMs on the host built for the task's name (vm.create names them "tenant.name").</summary>
    private async Task<int> VmsNamedAsync(string name)
        => (await AgentHost.VmsAsync(_services)).Count(vm => vm.GetProperty("name").GetString() == "tenant1." + name);

    /// <summary>The journal row's state as stored on disk (what survives a kill), or null when the task id is not in the journal.</summary>
    private string? JournalStateOf(Guid taskId)
    {
        _services.GetRequiredService<TaskJournal>(); // the file and its table exist from the agent's first task on
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_options.FullDataPath, "journal.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT state FROM journal WHERE task_id = $id";
        select.Parameters.AddWithValue("$id", taskId.ToString());
        return select.ExecuteScalar() as string;
    }

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
        Assert.That(JsonSerializer.Serialize(second), Is.EqualTo(JsonSerializer.Serialize(first)), "the stored result as it was, with the attempt that produced it");
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

    [Test]
    public async Task A_task_killed_while_waiting_for_its_VM_lock_runs_normally_when_redelivered()
    {
        var task = NewTask("consumer-killed-waiting");
        // Another task holds the VM: this one is accepted and waits for its lock.
        var heldByAnother = await _services.GetRequiredService<VmLocks>().AcquireAsync(AgentTaskConsumer.LockKey(task), CancellationToken.None);
        try
        {
            await _harness.Bus.Publish(task);
            await Eventually.True(() => Task.FromResult(JournalStateOf(task.TaskId) is not null), because: "the task is in the journal, waiting for its VM");
            Assert.That(StartedCount(_harness, task.TaskId), Is.Zero, "it has not started");

            // The agent is killed now; it restarts on the same data folder and the task is redelivered.
            // (This process's first agent cannot die: it stays blocked on the held lock.)
            await using var restarted = BuildAgent(_folder.Path);
            var restartedHarness = restarted.GetRequiredService<ITestHarness>();
            await restartedHarness.Start();
            try
            {
                await restartedHarness.Bus.Publish(task);

                var result = await ResultOfAsync(restartedHarness, task.TaskId);
                Assert.That(result.Ok, Is.True, $"{result.Error?.Code}: {result.Error?.Message}");
                Assert.That(StartedCount(restartedHarness, task.TaskId), Is.EqualTo(1), "the redelivered task started");
                Assert.That(result.Result!.Value.GetProperty("vm").GetProperty("name").GetString(), Is.EqualTo("consumer-killed-waiting"));
                Assert.That(await VmsNamedAsync("consumer-killed-waiting"), Is.EqualTo(1), "the script ran: the VM is on the host, no cleanup removed it");
            }
            finally
            {
                await restartedHarness.Stop();
            }
        }
        finally
        {
            heldByAnother.Dispose();
        }

        // The first agent's delivery, still waiting in this process, now gets the lock: it finds the task
        // done on the same journal and republishes that result instead of running the script again.
        var late = await ResultOfAsync(task.TaskId);
        Assert.That(late.Ok, Is.True, late.Error?.Message);
        Assert.That(StartedCount(_harness, task.TaskId), Is.Zero, "the first agent never started it");
        Assert.That(await VmsNamedAsync("consumer-killed-waiting"), Is.EqualTo(1), "the script ran once");
    }

    [Test]
    public async Task A_task_killed_while_its_script_ran_is_still_reported_interrupted_not_run_twice()
    {
        var task = NewTask("consumer-killed-running");
        // What an agent killed in the middle of the script leaves: the row 'running' and the task's folder half built.
        var killed = new TaskJournal(Options.Create(_options));
        Assert.That(killed.Begin(task.TaskId, task.Action, DateTimeOffset.UtcNow).State, Is.EqualTo(JournalEntryState.Begun));
        Assert.That(killed.TryStart(task.TaskId, DateTimeOffset.UtcNow), Is.True);
        var taskFolder = Path.Combine(_options.FullDataPath, "vms", task.TenantId, task.TaskId.ToString());
        Directory.CreateDirectory(taskFolder);
        File.WriteAllText(Path.Combine(taskFolder, "half-built.vhdx"), "");

        await _harness.Bus.Publish(task);

        var result = await ResultOfAsync(task.TaskId);
        Assert.That((result.Ok, result.Error!.Code), Is.EqualTo((false, ErrorCodes.Interrupted)));
        Assert.That(result.Error.Details!.Value.GetProperty("cleanup").GetProperty("removedFolder").GetString(), Is.EqualTo(taskFolder), "its cleanup script ran");
        Assert.That(Directory.Exists(taskFolder), Is.False, "what it had built was removed");
        Assert.That(StartedCount(_harness, task.TaskId), Is.Zero, "it did not start again");
        Assert.That(await VmsNamedAsync("consumer-killed-running"), Is.Zero, "the script did not run again");
    }

    [Test]
    public async Task A_duplicate_delivery_while_the_task_waits_for_its_VM_lock_is_dropped_and_the_script_runs_once()
    {
        var task = NewTask("consumer-duplicate");
        // (The harness's Consumed list waits for the bus to go idle, which it does not while a delivery waits: count here.)
        var consumed = new ConsumedCount(task.TaskId);
        using var observing = _harness.Bus.ConnectConsumeMessageObserver(consumed);
        var heldByAnother = await _services.GetRequiredService<VmLocks>().AcquireAsync(AgentTaskConsumer.LockKey(task), CancellationToken.None);
        try
        {
            await _harness.Bus.Publish(task);
            await Eventually.True(() => Task.FromResult(JournalStateOf(task.TaskId) is not null), because: "the first delivery waits for the VM");

            await _harness.Bus.Publish(task);

            await Eventually.True(() => Task.FromResult(consumed.Count == 1), because: "the duplicate delivery is done with while the first one waits");
        }
        finally
        {
            heldByAnother.Dispose();
        }

        var result = await ResultOfAsync(task.TaskId);
        Assert.That(result.Ok, Is.True, result.Error?.Message);
        await Eventually.True(() => Task.FromResult(consumed.Count == 2), because: "both deliveries are done with");
        Assert.That(_harness.Published.Select<AgentTaskResult>().Count(m => m.Context.Message.TaskId == task.TaskId), Is.EqualTo(1), "the duplicate published nothing");
        Assert.That(StartedCount(_harness, task.TaskId), Is.EqualTo(1));
        Assert.That(await VmsNamedAsync("consumer-duplicate"), Is.EqualTo(1), "the script ran once");
    }

    [Test]
    public async Task An_expired_task_is_not_run_and_answers_ERR_EXPIRED_with_its_attempt_and_a_later_attempt_of_it_runs()
    {
        var expired = NewTask("consumer-expired") with { Attempt = 2, NotAfter = DateTimeOffset.UtcNow.AddMinutes(-1) };

        await _harness.Bus.Publish(expired);

        var answer = await ResultOfAsync(expired.TaskId);
        Assert.That((answer.Ok, answer.Error!.Code, answer.Attempt), Is.EqualTo((false, ErrorCodes.Expired, (int?)2)));
        Assert.That(StartedCount(_harness, expired.TaskId), Is.Zero, "it did not start");
        Assert.That(await VmsNamedAsync("consumer-expired"), Is.Zero, "its script did not run");
        Assert.That(JournalStateOf(expired.TaskId), Is.EqualTo("waiting"), "not recorded done: a later attempt may still run here");

        await _harness.Bus.Publish(expired with { Attempt = 3, NotAfter = null });

        var ran = await ResultOfAsync(expired.TaskId, nth: 2);
        Assert.That((ran.Ok, ran.Attempt), Is.EqualTo((true, (int?)3)), ran.Error?.Message);
        Assert.That(StartedCount(_harness, expired.TaskId), Is.EqualTo(1));
        Assert.That(await VmsNamedAsync("consumer-expired"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_task_that_expires_while_waiting_for_its_VM_is_not_started()
    {
        var task = NewTask("consumer-expires-waiting") with { Attempt = 4, NotAfter = DateTimeOffset.UtcNow.AddSeconds(2) };
        var heldByAnother = await _services.GetRequiredService<VmLocks>().AcquireAsync(AgentTaskConsumer.LockKey(task), CancellationToken.None);
        try
        {
            await _harness.Bus.Publish(task);
            await Eventually.True(() => Task.FromResult(JournalStateOf(task.TaskId) is not null), because: "accepted before its deadline, waiting for its VM");
            await Eventually.True(() => Task.FromResult(DateTimeOffset.UtcNow > task.NotAfter), because: "its start deadline passes while it waits");
        }
        finally
        {
            heldByAnother.Dispose();
        }

        var answer = await ResultOfAsync(task.TaskId);
        Assert.That((answer.Ok, answer.Error!.Code, answer.Attempt), Is.EqualTo((false, ErrorCodes.Expired, (int?)4)));
        Assert.That(StartedCount(_harness, task.TaskId), Is.Zero);
        Assert.That(await VmsNamedAsync("consumer-expires-waiting"), Is.Zero);
        Assert.That(JournalStateOf(task.TaskId), Is.EqualTo("waiting"));
    }

    [Test]
    public async Task The_retry_service_drops_confirmed_results_past_the_journal_retention_at_most_once_a_minute()
    {
        using var folder = new TempFolder("consumer-prune");
        await using var agent = BuildAgent(folder.Path);
        var journal = agent.GetRequiredService<TaskJournal>();
        var now = DateTimeOffset.UtcNow;
        Guid Finished(TimeSpan ago)
        {
            var id = Guid.NewGuid();
            journal.Begin(id, ActionNames.VmPower, now - ago);
            journal.TryStart(id, now - ago);
            journal.Complete(id, "{}", now - ago);
            journal.Confirm(id);
            return id;
        }
        var old = Finished(TimeSpan.FromDays(8));
        var recent = Finished(TimeSpan.FromDays(6));
        var retry = ActivatorUtilities.CreateInstance<ResultRetryService>(agent);

        Assert.That(retry.PruneJournal(), Is.EqualTo(1), "older than the default seven days");
        Assert.That(journal.Find(old), Is.Null);
        Assert.That(journal.Find(recent)?.State, Is.EqualTo(JournalEntryState.Finished));
        var older = Finished(TimeSpan.FromDays(9));
        Assert.That(retry.PruneJournal(), Is.Zero, "not again within the minute");
        Assert.That(journal.Find(older), Is.Not.Null);
    }

    [Test]
    public async Task A_result_that_cannot_be_published_is_kept_unconfirmed_the_delivery_completes_and_it_is_published_again()
    {
        using var folder = new TempFolder("consumer-refused");
        await using var agent = BuildAgent(folder.Path, services =>
        {
            services.AddSingleton<RefusingWire>();
            services.Replace(ServiceDescriptor.Singleton<IAgentWire>(sp => sp.GetRequiredService<RefusingWire>()));
        });
        await agent.GetRequiredService<SimulatedHost>().PrepareAsync(CancellationToken.None);
        var harness = agent.GetRequiredService<ITestHarness>();
        var wire = agent.GetRequiredService<RefusingWire>();
        var journal = agent.GetRequiredService<TaskJournal>();
        await harness.Start();
        try
        {
            wire.Refusing = true;
            var task = NewTask("consumer-refused") with { Attempt = 2 };

            await harness.Bus.Publish(task);

            Assert.That(await harness.Consumed.Any<AgentTask>(m => m.Context.Message.TaskId == task.TaskId), Is.True);
            var consumed = harness.Consumed.Select<AgentTask>().Single(m => m.Context.Message.TaskId == task.TaskId);
            Assert.That(consumed.Exception, Is.Null, "the delivery is acknowledged: the journal holds the result");
            Assert.That(wire.Refused, Is.EqualTo(2), "its started message and its result were refused");
            Assert.That((await AgentHost.VmsAsync(agent)).Count(vm => vm.GetProperty("name").GetString() == "tenant1.consumer-refused"), Is.EqualTo(1),
                "a refused started message does not stop the task");
            Assert.That(journal.Unconfirmed().Select(r => r.TaskId), Is.EqualTo(new[] { task.TaskId }));
            Assert.That(harness.Published.Select<AgentTaskResult>().Any(m => m.Context.Message.TaskId == task.TaskId), Is.False);

            var retry = ActivatorUtilities.CreateInstance<ResultRetryService>(agent);
            Assert.That(await retry.SendUnconfirmedAsync(CancellationToken.None), Is.False, "still refused: it stays for the next round");
            Assert.That(journal.Unconfirmed(), Has.Count.EqualTo(1));
            wire.Refusing = false;
            Assert.That(await retry.SendUnconfirmedAsync(CancellationToken.None), Is.True);

            var result = await ResultOfAsync(harness, task.TaskId);
            Assert.That((result.Ok, result.Attempt), Is.EqualTo((true, (int?)2)), result.Error?.Message);
            Assert.That(journal.Unconfirmed(), Is.Empty, "confirmed once published");
        }
        finally
        {
            await harness.Stop();
        }
    }

    [Test]
    public async Task A_task_with_a_start_deadline_whose_started_message_is_refused_is_not_started_and_stays_waiting()
    {
        using var folder = new TempFolder("consumer-fenced-refused");
        await using var agent = BuildAgent(folder.Path, services =>
        {
            services.AddSingleton<RefusingWire>();
            services.Replace(ServiceDescriptor.Singleton<IAgentWire>(sp => sp.GetRequiredService<RefusingWire>()));
        });
        await agent.GetRequiredService<SimulatedHost>().PrepareAsync(CancellationToken.None);
        var harness = agent.GetRequiredService<ITestHarness>();
        var wire = agent.GetRequiredService<RefusingWire>();
        await harness.Start();
        try
        {
            wire.Refusing = true;
            // Another agent may get this task unless the orchestrator hears in time that it started here.
            var task = NewTask("consumer-fenced-refused") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(5) };

            await harness.Bus.Publish(task);

            Assert.That(await harness.Consumed.Any<AgentTask>(m => m.Context.Message.TaskId == task.TaskId), Is.True);
            Assert.That(harness.Consumed.Select<AgentTask>().Single(m => m.Context.Message.TaskId == task.TaskId).Exception, Is.Null);
            Assert.That(wire.Refused, Is.EqualTo(1), "only its started message was tried");
            Assert.That((await AgentHost.VmsAsync(agent)).Count(vm => vm.GetProperty("name").GetString() == "tenant1.consumer-fenced-refused"), Is.Zero,
                "not started");
            Assert.That(agent.GetRequiredService<TaskJournal>().Find(task.TaskId)?.State, Is.EqualTo(JournalEntryState.NeverStarted),
                "still waiting: a later delivery may run it");
        }
        finally
        {
            await harness.Stop();
        }
    }

    private static AgentTaskCancel CancelOf(AgentTask task, string agentId = AgentId)
        => new(task.TaskId, task.TenantId, agentId, task.Action, task.Attempt, DateTimeOffset.UtcNow);

    [Test]
    public async Task A_cancel_of_a_task_waiting_for_its_VM_ends_the_wait_answers_ERR_CANCELED_and_the_task_never_runs()
    {
        var task = NewTask("consumer-cancel-waiting");
        var heldByAnother = await _services.GetRequiredService<VmLocks>().AcquireAsync(AgentTaskConsumer.LockKey(task), CancellationToken.None);
        try
        {
            await _harness.Bus.Publish(task);
            await Eventually.True(() => Task.FromResult(JournalStateOf(task.TaskId) is not null), because: "the task waits for its VM");

            await _harness.Bus.Publish(CancelOf(task));

            var answer = await ResultOfAsync(task.TaskId);
            Assert.That((answer.Ok, answer.Error!.Code, answer.StartedAt, answer.Attempt), Is.EqualTo((false, ErrorCodes.Canceled, (DateTimeOffset?)null, (int?)1)));
            Assert.That(JournalStateOf(task.TaskId), Is.EqualTo("done"), "recorded done: it never runs");
        }
        finally
        {
            heldByAnother.Dispose();
        }

        // A later delivery (a re-sent dispatch) finds it done and publishes the same answer again.
        await _harness.Bus.Publish(task);
        var again = await ResultOfAsync(task.TaskId, nth: 2);
        Assert.That(JsonSerializer.Serialize(again), Is.EqualTo(JsonSerializer.Serialize(await ResultOfAsync(task.TaskId))));
        Assert.That(StartedCount(_harness, task.TaskId), Is.Zero, "it never started");
        Assert.That(await VmsNamedAsync("consumer-cancel-waiting"), Is.Zero, "its script never ran");
    }

    [Test]
    public async Task A_cancel_of_a_task_that_has_not_arrived_records_it_done_and_its_later_delivery_republishes_ERR_CANCELED_without_running_it()
    {
        var task = NewTask("consumer-cancel-first");

        await _harness.Bus.Publish(CancelOf(task));

        var answer = await ResultOfAsync(task.TaskId);
        Assert.That((answer.Ok, answer.Error!.Code, answer.AgentId), Is.EqualTo((false, ErrorCodes.Canceled, AgentId)));
        Assert.That(JournalStateOf(task.TaskId), Is.EqualTo("done"));

        await _harness.Bus.Publish(task);

        var again = await ResultOfAsync(task.TaskId, nth: 2);
        Assert.That(JsonSerializer.Serialize(again), Is.EqualTo(JsonSerializer.Serialize(answer)), "the stored answer, as it was");
        Assert.That(StartedCount(_harness, task.TaskId), Is.Zero);
        Assert.That(await VmsNamedAsync("consumer-cancel-first"), Is.Zero);
    }

    [Test]
    public async Task A_cancel_of_a_running_create_stops_its_script_removes_the_VM_it_built_and_answers_ERR_CANCELED()
    {
        // The script waits in Set-VMProcessor, after New-VM: the VM is on the host when the cancel comes.
        _options.Simulated.LatencyMs["Set-VMProcessor"] = 60_000;
        _host.WriteConfig();
        try
        {
            var task = NewTask("consumer-cancel-running");
            await _harness.Bus.Publish(task);
            await Eventually.True(async () => await VmsNamedAsync("consumer-cancel-running") == 1, TimeSpan.FromSeconds(30), "the VM is built");
            var clock = System.Diagnostics.Stopwatch.StartNew();

            await _harness.Bus.Publish(CancelOf(task));

            var answer = await ResultOfAsync(task.TaskId);
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the script was stopped, not waited for");
            Assert.That((answer.Ok, answer.Error!.Code), Is.EqualTo((false, ErrorCodes.Canceled)), answer.Error.Message);
            Assert.That(answer.StartedAt, Is.Not.Null, "it had started");
            Assert.That(answer.Error.Message, Does.Contain("its script was stopped and what it had built was removed"));
            Assert.That(answer.Error.Details!.Value.TryGetProperty("cleanup", out _), Is.True, "the cleanup's report");
            Assert.That(await VmsNamedAsync("consumer-cancel-running"), Is.Zero, "the VM is gone");
            Assert.That(Directory.Exists(Path.Combine(_options.FullDataPath, "vms", task.TenantId, task.TaskId.ToString())), Is.False, "and its folder");
            Assert.That(JournalStateOf(task.TaskId), Is.EqualTo("done"));
        }
        finally
        {
            _options.Simulated.LatencyMs.Remove("Set-VMProcessor");
            _host.WriteConfig();
        }
    }

    [Test]
    public async Task A_cancel_of_a_finished_task_publishes_its_stored_result_again()
    {
        var task = NewTask("consumer-cancel-done");
        await _harness.Bus.Publish(task);
        var first = await ResultOfAsync(task.TaskId);
        Assert.That(first.Ok, Is.True, first.Error?.Message);

        await _harness.Bus.Publish(CancelOf(task));

        var again = await ResultOfAsync(task.TaskId, nth: 2);
        Assert.That(JsonSerializer.Serialize(again), Is.EqualTo(JsonSerializer.Serialize(first)), "the success, as stored: the orchestrator settles it SUCCESS");
        Assert.That(await VmsNamedAsync("consumer-cancel-done"), Is.EqualTo(1), "what it built stays");
    }

    [Test]
    public async Task A_cancel_addressed_to_another_agent_changes_nothing()
    {
        var task = NewTask("consumer-cancel-other");

        await _harness.Bus.Publish(CancelOf(task, agentId: "agent-other"));

        Assert.That(await _harness.Consumed.Any<AgentTaskCancel>(m => m.Context.Message.TaskId == task.TaskId), Is.True);
        Assert.That(JournalStateOf(task.TaskId), Is.Null, "not recorded");
        Assert.That(_harness.Published.Select<AgentTaskResult>().Any(m => m.Context.Message.TaskId == task.TaskId), Is.False, "no answer");
    }

    /// <summary>The agent's in-process wire, refusing every started message and result while <see cref="Refusing"/> (a broker that refuses them).</summary>
    private sealed class RefusingWire(IBus bus, IHostApplicationLifetime lifetime) : IAgentWire
    {
        private readonly BusAgentWire _inner = new(bus, lifetime);
        private int _refused;

        public volatile bool Refusing;

        public int Refused => Volatile.Read(ref _refused);

        public Task StartedAsync(AgentTaskStarted started, CancellationToken cancellationToken)
            => Refusing ? Refuse<bool>() : _inner.StartedAsync(started, cancellationToken);

        public Task<bool> ResultAsync(AgentTaskResult result, CancellationToken cancellationToken)
            => Refusing ? Refuse<bool>() : _inner.ResultAsync(result, cancellationToken);

        public Task HeartbeatAsync(AgentHeartbeat heartbeat, CancellationToken cancellationToken) => _inner.HeartbeatAsync(heartbeat, cancellationToken);

        public Task InventoryAsync(AgentInventory inventory, CancellationToken cancellationToken) => _inner.InventoryAsync(inventory, cancellationToken);

        private Task<T> Refuse<T>()
        {
            Interlocked.Increment(ref _refused);
            return Task.FromException<T>(new InvalidOperationException("refused by the broker (test)"));
        }
    }

    /// <summary>How many deliveries of one task the consumer has finished with (returned from, result or not).</summary>
    private sealed class ConsumedCount(Guid taskId) : IConsumeMessageObserver<AgentTask>
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task PreConsume(ConsumeContext<AgentTask> context) => Task.CompletedTask;

        public Task PostConsume(ConsumeContext<AgentTask> context)
        {
            if (context.Message.TaskId == taskId)
                Interlocked.Increment(ref _count);
            return Task.CompletedTask;
        }

        public Task ConsumeFault(ConsumeContext<AgentTask> context, Exception exception) => PostConsume(context);
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
