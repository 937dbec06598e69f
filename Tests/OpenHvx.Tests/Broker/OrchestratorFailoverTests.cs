using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Contracts;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// Two orchestrators on one store (one SQLite file) and one broker behind the gateway, as competing consumers. First, one task's
/// messages handled by both at once lose no update; then one orchestrator is SIGKILLed in the middle of a burst of vm.create
/// submitted with Idempotency-Keys: clients see no error, and the survivor finishes every task. One stack for both (the kill last).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OrchestratorFailoverTests
{
    private const int Submissions = 100;
    private const int KillAfter = 30;
    private const int ProgressNotes = 60;
    private const string SlowAgent = "agent-slow";

    private static readonly Dictionary<string, string> Orchestrators = new()
    {
        // Room for every VM of the burst, in the tenant's quota and on the two agents.
        ["Orchestrator__Seed__Cpu"] = "1000",
        ["Orchestrator__Seed__MemoryMB"] = "4194304",
        ["Orchestrator__Seed__StorageMB"] = "67108864",
        ["Orchestrator__Seed__VmCount"] = "1000",
        // A dead orchestrator's jobs and outbox are taken over once its leases lapse: quicker than the default 15 s here.
        ["Orchestrator__Leases__Duration"] = "00:00:06",
        // Event streams read the log only every 5 minutes (a keep-alive also reads it): another orchestrator's commits must reach
        // them through the broker.
        ["Orchestrator__EventStreams__PollInterval"] = "00:05:00",
        ["Orchestrator__EventStreams__KeepAlive"] = "00:05:00",
    };

    private static AgentSpec Agent(string agentId) => new(agentId, LogicalProcessors: 128, MemoryMB: 1048576,
        Environment: new Dictionary<string, string> { ["Agent__Simulated__StorageMB"] = "33554432", ["Agent__MaxConcurrency"] = "8" });

    private ProcessStack _stack = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // agent-slow takes one pinned task that runs long, then is drained: the burst goes to agent-f1 and agent-f2.
        _stack = await ProcessStack.StartWithOrchestratorsAsync(2, Orchestrators, Agent("agent-f1"), Agent("agent-f2"),
            new AgentSpec(SlowAgent, Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "12000" }));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_stack is null)
            return;
        if (TestContext.CurrentContext.Result.FailCount > 0)
            await TestContext.Out.WriteLineAsync(_stack.Logs);
        await _stack.DisposeAsync();
    }

    [Test]
    [Order(0)]
    public async Task A_stream_on_either_orchestrator_receives_at_once_the_events_that_the_other_one_committed()
    {
        var stack = _stack;
        // Who published each event on task.events: the final event is committed by one orchestrator, and the other, which committed
        // nothing after it, learns of it only from the broker (its next poll of the log is minutes away).
        await using var connection = await new ConnectionFactory { Uri = new Uri(stack.Broker.Url) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, WireTopology.TaskEventsExchange, "#");
        // Both orchestrators listen (their readiness does not wait for it): theirs and this test's queue.
        await Eventually.True(async () => (await stack.Broker.ServerNamedQueuesBoundToAsync(WireTopology.TaskEventsExchange)).Length >= 3,
            TimeSpan.FromSeconds(30), "both orchestrators listen on task.events");
        var streams = new List<EventStreamClient>();
        var clients = new List<HttpClient>();
        try
        {
            foreach (var orchestrator in stack.Orchestrators)
            {
                var client = new HttpClient { BaseAddress = new Uri(orchestrator.Url) };
                client.DefaultRequestHeaders.Authorization = stack.Api.DefaultRequestHeaders.Authorization;
                clients.Add(client);
                streams.Add(await EventStreamClient.OpenAsync(client, "/api/v1/admin/events"));
            }

            // A task that builds nothing (the burst below counts the VMs on the agents).
            var submitted = await stack.Api.PostAsJsonAsync("/api/v1/admin/tasks",
                new { tenantId = "test1", action = "inventory.refresh", target = new { kind = "host", agentId = "agent-f1" }, data = new { } });
            Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await submitted.Content.ReadAsStringAsync());
            var taskId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetGuid();

            var received = await Task.WhenAll(streams.Select(stream => stream.ReadUntilAsync(
                item => item.EventType == "inventory.refresh.SUCCESS" && EventStreamClient.Data(item).GetProperty("taskId").GetGuid() == taskId,
                TimeSpan.FromSeconds(30))));
            Assert.That(received.Select(items => items.Count(i => EventStreamClient.Data(i).GetProperty("taskId").GetGuid() == taskId)),
                Is.All.GreaterThanOrEqualTo(3), "each stream has the task's transitions, not only its last");

            var publishers = new List<string>();
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
                if (JsonDocument.Parse(message.Body).RootElement.GetProperty("taskId").GetGuid() == taskId)
                    publishers.Add(message.BasicProperties.Headers?.TryGetValue("openhvx-orchestrator", out var header) == true && header is byte[] bytes
                        ? System.Text.Encoding.UTF8.GetString(bytes) : "");
            Assert.That(publishers, Is.Not.Empty);
            Assert.That(publishers, Is.All.Matches<string>(p => stack.Orchestrators.Any(o => p.Contains($"-{o.Id}-"))),
                "each event on task.events names the orchestrator that committed it");
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync();
            foreach (var client in clients)
                client.Dispose();
        }
    }

    [Test]
    [Order(1)]
    public async Task One_tasks_messages_handled_by_two_orchestrators_at_once_lose_no_update()
    {
        var stack = _stack;
        var submitted = await stack.Api.PostAsJsonAsync("/api/v1/admin/tasks",
            new { tenantId = "test1", action = "vm.create", target = new { agentId = SlowAgent }, data = new { name = "noted" } });
        Assert.That(submitted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await submitted.Content.ReadAsStringAsync());
        var location = submitted.Headers.Location!;
        var taskId = Guid.Parse((await stack.WaitForStatusAsync(location, "running")).GetProperty("taskId").GetString()!);
        Assert.That((await stack.Api.PatchAsJsonAsync($"/api/v1/admin/agents/{SlowAgent}", new { status = "draining" })).IsSuccessStatusCode, Is.True);
        var before = await Task.WhenAll(stack.Orchestrators.Select(ResultsTakenAsync));

        // The agent's progress notes, published as the agent (its broker user) as fast as the broker takes them: the results queue
        // hands them to both orchestrators, whose sagas each append a note to the same task.
        await using (var agent = await new ConnectionFactory { Uri = new Uri(stack.AgentBrokerUrl(SlowAgent)) }.CreateConnectionAsync())
        await using (var channel = await agent.CreateChannelAsync())
        {
            var properties = new BasicProperties { ContentType = "application/json", Persistent = true, UserId = WireTopology.AgentBrokerUser(SlowAgent) };
            for (var i = 0; i < ProgressNotes; i++)
                await channel.BasicPublishAsync(WireTopology.ResultsExchange, WireTopology.ProgressRoutingKey(taskId), false, properties,
                    JsonSerializer.SerializeToUtf8Bytes(new { taskId, agentId = SlowAgent, message = $"note {i}", at = DateTimeOffset.UtcNow }));
        }

        var task = await Eventually.Get(() => stack.Api.GetFromJsonAsync<JsonElement>(location),
            t => t.GetProperty("progress").GetArrayLength() >= ProgressNotes, TimeSpan.FromSeconds(30), "every note on the task");
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("running"), "the notes arrived while the task ran");
        Assert.That(task.GetProperty("progress").EnumerateArray().Select(p => p.GetProperty("message").GetString()),
            Is.EquivalentTo(Enumerable.Range(0, ProgressNotes).Select(i => $"note {i}")), "no note lost to a concurrent update, none doubled");
        var after = await Task.WhenAll(stack.Orchestrators.Select(ResultsTakenAsync));
        Assert.That(after.Zip(before, (a, b) => a - b), Is.All.GreaterThan(0), "both orchestrators took notes of the task from the results queue");
        Assert.That(await stack.DeadLettersAsync(taskId), Is.Empty, "no conflict ended in an error queue");

        var final = await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(90));
        Assert.That(final.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), final.ToString());
        Assert.That(final.GetProperty("progress").GetArrayLength(), Is.EqualTo(ProgressNotes));
    }

    [Test]
    [Order(2)]
    public async Task Killing_one_of_two_orchestrators_mid_burst_loses_no_submission_and_the_survivor_finishes_every_task()
    {
        var stack = _stack;
        // The burst goes to the two quick agents (this test may run alone).
        Assert.That((await stack.Api.PatchAsJsonAsync($"/api/v1/admin/agents/{SlowAgent}", new { status = "draining" })).IsSuccessStatusCode, Is.True);
        var usedBefore = (await stack.QuotaAsync()).GetProperty("vmCount").GetProperty("used").GetInt64();
        var resourcesBefore = (await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources")).EnumerateArray()
            .Select(r => r.GetProperty("resourceId").GetString()).ToList();
        var sweeper = await DeadlineSweepHolderAsync(stack);
        var doomed = stack.Orchestrators.Single(o => sweeper.Contains($"-{o.Id}-"));
        var survivor = stack.Orchestrators.Single(o => o != doomed);

        var answered = 0;
        var answeredByDoomed = 0.0;
        var killed = new TaskCompletionSource();
        using var gate = new SemaphoreSlim(8);
        var submissions = Enumerable.Range(0, Submissions).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/tasks")
                {
                    Content = JsonContent.Create(new { tenantId = "test1", action = "vm.create", data = new { name = $"burst-{i}" } }),
                };
                request.Headers.Add("Idempotency-Key", $"failover-{i}");
                using var response = await stack.Api.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (Interlocked.Increment(ref answered) == KillAfter)
                {
                    answeredByDoomed = await SubmissionsAnsweredAsync(doomed);
                    doomed.Kill();
                    killed.SetResult();
                }
                return (response.StatusCode, Location: response.Headers.Location, body);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        var answers = await Task.WhenAll(submissions);
        await killed.Task;

        Assert.That(answers.Where(a => a.StatusCode != HttpStatusCode.Accepted).Select(a => $"{(int)a.StatusCode} {a.body}"), Is.Empty,
            "every submission is answered 202, those in flight at the killed orchestrator included\n" + stack.Logs);
        Assert.That(doomed.HasExited, Is.True);
        var final = new List<JsonElement>();
        foreach (var (_, location, _) in answers)
            final.Add(await stack.WaitForFinalAsync(location!, TimeSpan.FromSeconds(120)));

        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"),
            string.Join("\n", final.Where(t => t.GetProperty("status").GetString() != "SUCCESS").Select(t => t.ToString())) + "\n" + stack.Logs);
        Assert.That(final.Select(t => t.GetProperty("taskId").GetString()).Distinct().Count(), Is.EqualTo(Submissions), "one task per key");
        var vmIds = final.Select(t => t.GetProperty("result").GetProperty("vm").GetProperty("guid").GetString()!).ToList();

        var quota = await stack.QuotaAsync();
        Assert.That(quota.GetProperty("vmCount").GetProperty("used").GetInt64() - usedBefore, Is.EqualTo(Submissions),
            $"each VM charged once (before: {usedBefore}; quota: {quota}; ledger: {await LedgerAsync(stack)})");
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
            Assert.That(quota.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        var resources = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources");
        Assert.That(resources.EnumerateArray().Select(r => r.GetProperty("resourceId").GetString()).Except(resourcesBefore), Is.EquivalentTo(vmIds),
            "every VM linked, once");
        var onHosts = stack.Agents.Where(a => a.Name != SlowAgent).SelectMany(a => Directory.GetFiles(Path.Combine(stack.AgentDataPath(a.Name), "sim", "vms"), "*.json")).ToList();
        Assert.That(onHosts, Has.Count.EqualTo(Submissions), "no VM built twice, none untracked");

        var answeredBySurvivor = await SubmissionsAnsweredAsync(survivor);
        Assert.That(answeredByDoomed, Is.GreaterThan(0), "the gateway spread submissions over both before the kill");
        Assert.That(answeredBySurvivor, Is.GreaterThan(0));
        Assert.That(survivor.Output, Does.Contain("now runs the shared job deadline-sweep"), "the survivor took over the dead one's sweeps");
        Assert.That(stack.Gateway.Output, Does.Contain("sending it to another one"), "the gateway sent submissions the dead one failed to the survivor");
        TestContext.Progress.WriteLine($"[failover] submissions answered by the killed orchestrator before the kill: {answeredByDoomed}, by the survivor: {answeredBySurvivor}");
    }

    /// <summary>How many agent messages (results, started, progress) the orchestrator took from the results queue, from its MassTransit metrics.</summary>
    private static async Task<double> ResultsTakenAsync(ServiceProcess orchestrator)
    {
        using var http = new HttpClient();
        var metrics = await Telemetry.PrometheusText.ScrapeAsync(http, orchestrator.Url + "/metrics");
        return metrics.Value("messaging_masstransit_consume_ea_total", ("messaging_masstransit_consumer_type", "AgentResultRelay"));
    }

    /// <summary>The task submissions the orchestrator has answered, from its HTTP server metrics.</summary>
    private static async Task<double> SubmissionsAnsweredAsync(ServiceProcess orchestrator)
    {
        using var http = new HttpClient();
        var metrics = await Telemetry.PrometheusText.ScrapeAsync(http, orchestrator.Url + "/metrics");
        return metrics.Value("http_server_request_duration_seconds_count", ("http_request_method", "POST"), ("http_route", "/api/v1/admin/tasks/"));
    }

    /// <summary>The quota ledger's rows by status and vm count, read from the shared store (for a failure's message).</summary>
    private static async Task<string> LedgerAsync(ProcessStack stack)
    {
        await using var store = new SqliteConnection($"Data Source={stack.OrchestratorDatabase};Mode=ReadOnly;Pooling=False");
        await store.OpenAsync();
        await using var command = store.CreateCommand();
        command.CommandText = "SELECT status, vm_count, hold_lapsed, COUNT(*) FROM quota_holds GROUP BY status, vm_count, hold_lapsed";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
            rows.Add($"{reader.GetString(0)} vm_count={reader.GetInt64(1)} lapsed={reader.GetInt64(2)}: {reader.GetInt64(3)}");
        return string.Join("; ", rows);
    }

    /// <summary>The instance id holding the deadline sweep's lease, read from the shared store.</summary>
    private static async Task<string> DeadlineSweepHolderAsync(ProcessStack stack)
        => await Eventually.Get(async () =>
        {
            await using var store = new SqliteConnection($"Data Source={stack.OrchestratorDatabase};Mode=ReadOnly;Pooling=False");
            await store.OpenAsync();
            await using var command = store.CreateCommand();
            command.CommandText = "SELECT holder FROM job_leases WHERE job = 'deadline-sweep'";
            return await command.ExecuteScalarAsync() as string ?? "";
        }, holder => holder.Length > 0, TimeSpan.FromSeconds(30), "an orchestrator runs the deadline sweep");
}
