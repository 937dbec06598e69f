using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>A database file of an earlier version gets what was added since, filled in from what it holds.</summary>
[TestFixture]
[Category("Integration")]
public sealed class SqliteUpgradeTests
{
    /// <summary>A database file made by this version, then taken back by <paramref name="sql"/> to what an earlier version left.</summary>
    private static string EarlierFile(TempFolder folder, string sql)
    {
        var file = folder.File("openhvx.db");
        _ = new SqliteDatabase(file);
        using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
        return file;
    }

    [Test]
    public async Task Orchestrators_starting_at_once_on_a_new_file_and_on_an_earlier_one_all_open_it()
    {
        using var folder = new TempFolder("upgrade");
        var fresh = folder.File("fresh.db");
        var earlier = EarlierFile(folder, "ALTER TABLE agent_outbox DROP COLUMN owner; ALTER TABLE agents DROP COLUMN consumers_lost_at;");

        // Each as another process would open it: the schema's checks and changes must not interleave (a column added twice fails).
        foreach (var file in new[] { fresh, earlier })
        {
            using var start = new Barrier(4);
            var opened = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                start.SignalAndWait();
                return new SqliteDatabase(file).FilePath;
            })));
            Assert.That(opened, Has.Length.EqualTo(4), file);
        }

        using var read = new SqliteConnection($"Data Source={earlier};Pooling=False");
        read.Open();
        using var columns = read.CreateCommand();
        columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('agent_outbox') WHERE name = 'owner'";
        Assert.That(columns.ExecuteScalar(), Is.EqualTo(1L), "the earlier file got the column once");
        SqliteConnection.ClearAllPools();
    }

    [Test]
    public void Vms_linked_before_resources_named_their_image_get_the_image_their_create_task_used()
    {
        using var folder = new TempFolder("upgrade");
        // As an earlier version left it: no image_id, one VM and the task that created it.
        var file = EarlierFile(folder, """
            DROP INDEX ix_resources_image;
            ALTER TABLE tenant_resources DROP COLUMN image_id;
            INSERT INTO tasks (id, version, current_state, tenant_id, action, status, created_at, updated_at, document)
            VALUES ('9d1f6a32-0000-0000-0000-000000000001', 1, 'Succeeded', 't1', 'vm.create', 'SUCCESS', 0, 0,
                    '{"enrichedData":{"name":"web1","imageId":"Rocky-10.20250609"}}');
            INSERT INTO tenant_resources (id, tenant_id, kind, agent_id, name, task_id, created_at)
            VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', 't1', 'vm', 'agent-a', 'web1', '9d1f6a32-0000-0000-0000-000000000001', 0);
            """);

        var upgraded = new SqliteDatabase(file);

        using var read = upgraded.Open();
        using var query = read.CreateCommand();
        query.CommandText = "SELECT image_id FROM tenant_resources WHERE id = '0f8fad5b-d9cb-469f-a165-70867728950e'";
        Assert.That(query.ExecuteScalar(), Is.EqualTo("Rocky-10.20250609"));
        SqliteConnection.ClearAllPools();
    }

    [Test]
    public async Task Vms_linked_before_reconciliation_are_present_and_can_be_marked_gone()
    {
        using var folder = new TempFolder("upgrade-reconcile");
        // As an earlier version left it: no state, gone time, agent change time, recharge or reconciliations.
        var file = EarlierFile(folder, """
            DROP INDEX ix_resources_agent;
            ALTER TABLE tenant_resources DROP COLUMN state;
            ALTER TABLE tenant_resources DROP COLUMN gone_at;
            ALTER TABLE tenant_resources DROP COLUMN agent_changed_at;
            ALTER TABLE tenant_resources DROP COLUMN recharged;
            DROP TABLE agent_reconciliations;
            INSERT INTO tenant_resources (id, tenant_id, kind, agent_id, name, task_id, created_at, spec)
            VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', 't1', 'vm', 'agent-a', 'web1', '9d1f6a32-0000-0000-0000-000000000001', 0,
                    '{"cpu":2,"memoryMB":2048,"storageMB":10240,"vmCount":1}');
            """);

        var upgraded = new SqliteDatabase(file);
        var resources = new SqliteResourceStore(upgraded);

        var vm = (await resources.ListOnAgentAsync("agent-a")).Single();
        Assert.That((vm.State, vm.GoneAt, vm.AgentChangedAt, vm.Recharged), Is.EqualTo((ResourceStates.Present, (DateTimeOffset?)null, (DateTimeOffset?)null, (ResourceRecharge?)null)));
        await resources.UpdateAsync(vm with { State = ResourceStates.Gone, GoneAt = DateTimeOffset.FromUnixTimeMilliseconds(1000) }, vm.Name);
        await resources.SaveReconciliationAsync(new AgentReconciliation("agent-a", DateTimeOffset.FromUnixTimeMilliseconds(900), DateTimeOffset.FromUnixTimeMilliseconds(1000), []));
        Assert.That((await resources.GetAsync("t1", vm.ResourceId))!.State, Is.EqualTo(ResourceStates.Gone));
        Assert.That(await resources.GetReconciliationAsync("agent-a"), Is.Not.Null);
        SqliteConnection.ClearAllPools();
    }

    [Test]
    public async Task A_file_from_before_the_quota_counters_gets_them_as_the_sums_of_its_ledger()
    {
        using var folder = new TempFolder("upgrade-counters");
        // As an earlier version left it: a ledger and no counters.
        var file = EarlierFile(folder, """
            DROP TABLE quota_usage;
            INSERT INTO quota_holds (task_id, tenant_id, cpu, memory_mb, storage_mb, vm_count, status, created_at, expires_at) VALUES
              ('a', 't1', 2, 2048, 10240, 1, 'committed', 0, 0),
              ('b', 't1', 4, 4096, 10240, 1, 'committed', 0, 0),
              ('c', 't1', 1, 512, 0, 1, 'held', 0, 9999999999999),
              ('d', 't1', 8, 8192, 0, 1, 'released', 0, 0),
              ('e', 't2', 1, 1024, 0, 1, 'committed', 0, 0);
            """);

        var upgraded = new SqliteDatabase(file);

        var counters = new SqliteQuotaStore(upgraded);
        Assert.That(await counters.GetCountersAsync("t1", CancellationToken.None), Is.EqualTo(new OpenHvx.Orchestrator.Quotas.QuotaCounters(
            new OpenHvx.Orchestrator.Quotas.QuotaAmounts(6, 6144, 20480, 2), new OpenHvx.Orchestrator.Quotas.QuotaAmounts(1, 512, 0, 1))));
        Assert.That((await counters.GetCountersAsync("t2", CancellationToken.None)).Used.Cpu, Is.EqualTo(1));
        SqliteConnection.ClearAllPools();
    }

    [Test]
    public async Task A_file_from_before_retention_opens_and_its_old_ended_tasks_are_archived()
    {
        using var folder = new TempFolder("upgrade-retention");
        // As an earlier version left it: no archive, none of retention's indexes, an ended task with its event.
        var file = EarlierFile(folder, """
            DROP TABLE tasks_archive;
            DROP INDEX ix_tasks_status_updated;
            DROP INDEX ix_quota_holds_settled;
            DROP INDEX ix_idempotency_keys_created;
            INSERT INTO tasks (id, version, current_state, tenant_id, action, status, created_at, updated_at, document)
            VALUES ('9d1f6a32-0000-0000-0000-000000000001', 3, 'Succeeded', 't1', 'vm.power', 'SUCCESS', 0, 0,
                    '{"tenantId":"t1","action":"vm.power","status":"SUCCESS","timeline":[{"state":"Succeeded","status":"SUCCESS","at":"1970-01-01T00:00:00+00:00"}]}');
            INSERT INTO task_events (task_id, tenant_id, action, to_state, status, at) VALUES ('9d1f6a32-0000-0000-0000-000000000001', 't1', 'vm.power', 'Succeeded', 'SUCCESS', 0);
            """);

        var upgraded = new SqliteDatabase(file);
        var retention = new SqliteRetentionStore(upgraded, TimeProvider.System);

        Assert.That(await retention.ArchiveFinishedTasksAsync(DateTimeOffset.UnixEpoch, 500, CancellationToken.None), Is.EqualTo(1));
        var archived = await retention.LoadArchivedAsync(Guid.Parse("9d1f6a32-0000-0000-0000-000000000001"), CancellationToken.None);
        Assert.That((archived?.Version, archived?.Timeline.Count), Is.EqualTo((3, 1)));
        using var read = upgraded.Open();
        using var query = read.CreateCommand();
        query.CommandText = "SELECT (SELECT COUNT(*) FROM task_events) + (SELECT COUNT(*) FROM tasks)";
        Assert.That(query.ExecuteScalar(), Is.EqualTo(0L));
        SqliteConnection.ClearAllPools();
    }
}
