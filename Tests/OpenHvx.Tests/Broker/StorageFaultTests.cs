using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// The orchestrator's SQLite file on a small tmpfs of the test's: a file system filled under a burst of vm.create, and a
/// read-only one at start. Real processes on RabbitMQ; needs root for the mount (skipped with the reason otherwise, failed under CI).
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class StorageFaultTests
{
    private static readonly string[] ErrorQueues =
        ["orchestrator.results_error", "orchestrator.tasks_error", "orchestrator.heartbeats_error", "orchestrator.inventory_error"];

    private static async Task<HttpStatusCode> ReadinessAsync(ProcessStack stack)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return (await http.GetAsync(stack.Orchestrator.Url + "/health/ready")).StatusCode;
    }

    [Test]
    public async Task A_file_system_filled_under_a_burst_of_vm_create_loses_no_result_and_readiness_says_so_while_it_lasts()
    {
        using var disk = TmpfsMount.MountOrIgnore(sizeMb: "64");
        var database = disk.File("orchestrator.db");
        // Broker users are broker-wide: an agent id of this test's own.
        var agentId = "sf-" + Guid.NewGuid().ToString("N")[..6];
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string>
            {
                ["OPENHVX_DB"] = database,
                ["Orchestrator__TransientRetry__Total"] = "00:05:00",
                ["Orchestrator__TransientRetry__MaxInterval"] = "00:00:02",
            },
            new AgentSpec(agentId, Environment: new Dictionary<string, string> { ["Agent__Simulated__LatencyMs__New-VM"] = "3000" }));

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => stack.CreateVmAsync($"burst-{i}")));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.Accepted));
        var tasks = responses.Select(r => r.Headers.Location!).ToList();
        foreach (var location in tasks)
            await stack.WaitForStatusAsync(location, "sent", "running");

        // Empty the WAL first, so the next write needs new blocks (SQLite rewrites a WAL it has already grown in place, and a
        // disk that fills after a checkpoint is where that is so); then take every byte left.
        await using (var connection = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA busy_timeout=10000; PRAGMA wal_checkpoint(TRUNCATE);";
            await checkpoint.ExecuteNonQueryAsync();
        }
        var filled = disk.Fill();
        TestContext.Out.WriteLine($"filler: {filled / 1024} KiB");

        await Eventually.True(async () => await ReadinessAsync(stack) == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30),
            "readiness reports the store that refuses writes");
        // The agent finishes every VM while the disk is full: their results meet the full disk and are retried, not set aside.
        var simulatedVms = Path.Combine(stack.AgentDataPath(agentId), "sim", "vms");
        await Eventually.True(() => Task.FromResult(Directory.Exists(simulatedVms) && Directory.GetFiles(simulatedVms, "*.json").Length == 20),
            TimeSpan.FromSeconds(120), "the agent built the 20 VMs");
        await Eventually.True(() => Task.FromResult(stack.Orchestrator.Output.Contains($"SQLite database {database} refuses writes: SQLITE_FULL")),
            TimeSpan.FromSeconds(30), "the full disk is logged with the file and SQLite's cause");
        Assert.That(await ReadinessAsync(stack), Is.EqualTo(HttpStatusCode.ServiceUnavailable), "still not ready while full");
        var during = await Task.WhenAll(tasks.Select(t => stack.Api.GetFromJsonAsync<JsonElement>(t)));
        Assert.That(during.Count(t => t.GetProperty("status").GetString() == "SUCCESS"), Is.LessThan(20), "the results could not all be stored while full");

        disk.RemoveFiller();

        await Eventually.True(async () => await ReadinessAsync(stack) == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "ready again once writes work");
        var final = new List<JsonElement>();
        foreach (var location in tasks)
            final.Add(await stack.WaitForFinalAsync(location, TimeSpan.FromSeconds(120)));
        Assert.That(final.Select(t => t.GetProperty("status").GetString()), Is.All.EqualTo("SUCCESS"), stack.Logs);

        var quota = await stack.QuotaAsync();
        var resources = (await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/resources")).EnumerateArray().ToList();
        Assert.That(resources, Has.Count.EqualTo(20), "every VM built is linked");
        foreach (var line in new[] { "cpu", "memoryMB", "storageMB", "vmCount" })
        {
            Assert.That(quota.GetProperty(line).GetProperty("used").GetInt64(), Is.EqualTo(resources.Sum(r => r.GetProperty("charge").GetProperty(line).GetInt64())),
                line + " used is what the linked VMs are charged");
            Assert.That(quota.GetProperty(line).GetProperty("held").GetInt64(), Is.Zero, line + " held");
        }
        foreach (var queue in ErrorQueues)
            Assert.That(await stack.Broker.MessagesInAsync(queue), Is.Zero, queue);
        Assert.That(await stack.DeadLettersAsync(), Is.Empty, "nothing was set aside");
        // The store's own lines (a JSON line names the cause in its message and again in its fields; the health check's lines repeat it).
        var burstErrors = stack.Orchestrator.Output.Split('\n')
            .Count(l => l.Contains("\"category\":\"OpenHvx.Orchestrator.Persistence.Sqlite.SqliteDatabase\"") && l.Contains("refuses writes: SQLITE_FULL"));
        // Who logged the full disk (the header line of each log entry that mentions it), for the record.
        var lines = stack.Orchestrator.Output.Split('\n');
        var loggers = lines.Select((line, i) => (line, i)).Where(x => x.line.Contains("disk is full"))
            .Select(x => Enumerable.Range(0, x.i + 1).Select(j => lines[x.i - j]).First(l => !l.StartsWith(' ') || l == lines[0]));
        foreach (var group in loggers.GroupBy(l => Regex.Replace(l, "[0-9]+", "#")).OrderByDescending(g => g.Count()))
            TestContext.Out.WriteLine($"{group.Count()} x {group.Key}");
        TestContext.Out.WriteLine($"'refuses writes' errors logged: {burstErrors}; 'database or disk is full' mentioned {Regex.Matches(stack.Orchestrator.Output, "database or disk is full").Count} times");
        Assert.That(burstErrors, Is.LessThanOrEqualTo(3), "logged once per burst, not once per failed write");
        Assert.That(stack.Orchestrator.Output, Does.Not.Contain("R-FAULT"), "no message faulted: results retried, heartbeats dropped");
        Assert.That(stack.Orchestrator.Output, Does.Contain($"SQLite database {database} accepts writes again"));
    }

    [Test]
    public async Task A_database_on_a_read_only_file_system_stops_the_orchestrator_with_the_path_and_the_cause()
    {
        using var disk = TmpfsMount.MountOrIgnore(sizeMb: "8");
        var database = disk.File("orchestrator.db");
        // A database made by the orchestrator (schema and WAL), then its file system turned read-only.
        _ = new OpenHvx.Orchestrator.Persistence.Sqlite.SqliteDatabase(database);
        SqliteConnection.ClearAllPools();
        disk.RemountReadOnly();

        await using var orchestrator = ServiceProcess.Start("orchestrator", "Orchestrator", new Dictionary<string, string>
        {
            ["OPENHVX_DB"] = database,
            ["OPENHVX_RABBITMQ_URL"] = "amqp://guest:guest@127.0.0.1:1/",
            ["OPENHVX_AUTHORITY"] = "http://127.0.0.1:1",
        });
        await orchestrator.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.That(orchestrator.ExitCode, Is.Not.Zero);
        var lines = orchestrator.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Where(l => l.Contains(database)).ToList(), Has.Count.EqualTo(1), orchestrator.Output);
        Assert.That(lines.Single(l => l.Contains(database)), Does.Contain("cannot be opened for writing").And.Match("SQLITE_(READONLY|CANTOPEN|IOERR)"));
        Assert.That(orchestrator.Output, Does.Not.Contain("   at "), "one line, no stack trace");
    }
}
