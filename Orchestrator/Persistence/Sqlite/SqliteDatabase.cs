using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>
/// The orchestrator's SQLite file: pooled connections, the schema, and write transactions. Writes go through
/// <see cref="WriteAsync"/>: one in-process writer at a time (SQLite has one anyway; waiting here is cheaper than
/// SQLite's busy polling), joining the transaction of <see cref="InTransactionAsync{T}"/> when the caller runs inside one.
/// </summary>
public sealed class SqliteDatabase : IStoreTransactions
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly AsyncLocal<SqliteLease?> _ambient = new();

    public SqliteDatabase(string path, ILogger? logger = null)
    {
        var full = Path.GetFullPath(path);
        FilePath = full;
        Faults = new SqliteFaultLog(full, logger ?? NullLogger.Instance);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            // SQLITE_BUSY is retried by Microsoft.Data.Sqlite until this many seconds have passed.
            DefaultTimeout = 30,
        }.ToString();
        try
        {
            Contracts.PrivateFiles.EnsureOwnerOnlyFile(full);
            EnsureSchema();
            using var connection = Open();
            using var transaction = connection.BeginTransaction(deferred: false);
            using var probe = connection.Command(ProbeSql, transaction).With("$at", DateTimeOffset.UtcNow.ToUnixMs());
            probe.ExecuteNonQuery();
            transaction.Commit();
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            var cause = ex is SqliteException sqlite ? SqliteFaultLog.Cause(sqlite) : ex.Message;
            throw new StoreUnavailableException($"The orchestrator's SQLite database {full} cannot be opened for writing: {cause}", ex);
        }
    }

    public string FilePath { get; }

    /// <summary>Write failures, logged with this file's path and SQLite's cause, once per burst.</summary>
    public SqliteFaultLog Faults { get; }

    private const string ProbeSql = "INSERT INTO store_probe (id, at) VALUES (1, $at) ON CONFLICT(id) DO UPDATE SET at = excluded.at";

    /// <summary>
    /// A real write (one row, its own transaction, through the writer gate): throws what any write would meet now, a full
    /// disk or a read-only file included. The readiness check.
    /// </summary>
    public async Task ProbeWriteAsync(CancellationToken cancellationToken)
    {
        await using var lease = await WriteAsync(cancellationToken);
        await using var command = lease.Command(ProbeSql).With("$at", DateTimeOffset.UtcNow.ToUnixMs());
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqliteException ex)
        {
            Faults.Failed(ex);
            throw;
        }
        await lease.CommitAsync(cancellationToken);
    }

    /// <summary>A connection to read with (or to write one statement); inside a transaction, that transaction's.</summary>
    public async Task<SqliteLease> LeaseAsync(CancellationToken cancellationToken = default)
        => _ambient.Value is { } ambient ? ambient.Joined() : new SqliteLease(await OpenAsync(cancellationToken), null, null);

    /// <summary>A write transaction (BEGIN IMMEDIATE) that <see cref="SqliteLease.CommitAsync"/> commits; inside a transaction, that one.</summary>
    public async Task<SqliteLease> WriteAsync(CancellationToken cancellationToken = default)
    {
        if (_ambient.Value is { } ambient)
            return ambient.Joined();
        await _writer.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            return new SqliteLease(connection, connection.BeginTransaction(deferred: false), _writer, faults: Faults);
        }
        catch
        {
            _writer.Release();
            throw;
        }
    }

    public async Task<T> InTransactionAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        if (_ambient.Value is not null)
            return await work();
        List<(AfterCommitStage Stage, Func<Task> Action)> afterCommit;
        T result;
        await using (var lease = await WriteAsync(cancellationToken))
        {
            _ambient.Value = lease;
            try
            {
                try
                {
                    result = await work();
                }
                catch (SqliteException ex)
                {
                    // A statement's failure; a commit's is reported by the lease.
                    Faults.Failed(ex);
                    throw;
                }
                await lease.CommitAsync(cancellationToken);
            }
            finally
            {
                _ambient.Value = null;
            }
            afterCommit = lease.AfterCommit;
        }
        foreach (var (_, action) in afterCommit.OrderBy(a => a.Stage))
            await action();
        return result;
    }

    public void AfterCommit(Func<Task> action, AfterCommitStage stage = AfterCommitStage.Events)
    {
        if (_ambient.Value is { } ambient)
            ambient.AfterCommit.Add((stage, action));
        else
            throw new InvalidOperationException("AfterCommit needs a transaction (InTransactionAsync).");
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private void EnsureSchema()
    {
        using var connection = Open();
        using (var wal = connection.Command("PRAGMA journal_mode=WAL;"))
            wal.ExecuteNonQuery();
        // Orchestrators starting at once on one file (new, or from an earlier version) check and change its schema one at a time.
        using var transaction = connection.BeginTransaction(deferred: false);
        var countersExisted = TableExists(transaction, "quota_usage");
        using (var command = connection.Command(Schema, transaction))
            command.ExecuteNonQuery();
        AddColumnIfMissing(transaction, "quota_holds", "hold_lapsed", "INTEGER NOT NULL DEFAULT 0");
        AddAgentLivenessColumns(transaction);
        if (!countersExisted)
        {
            // Created and filled in the schema's transaction: a crash between the two must not leave counters at zero for good.
            // A file from before the counters gets them as the sums of its ledger.
            using var fill = connection.Command(QuotaCountersSchema +
                """
                INSERT INTO quota_usage (tenant_id, used_cpu, used_memory_mb, used_storage_mb, used_vm_count, held_cpu, held_memory_mb, held_storage_mb, held_vm_count)
                SELECT tenant_id,
                  SUM(CASE WHEN status = 'committed' THEN cpu ELSE 0 END), SUM(CASE WHEN status = 'committed' THEN memory_mb ELSE 0 END),
                  SUM(CASE WHEN status = 'committed' THEN storage_mb ELSE 0 END), SUM(CASE WHEN status = 'committed' THEN vm_count ELSE 0 END),
                  SUM(CASE WHEN status = 'held' THEN cpu ELSE 0 END), SUM(CASE WHEN status = 'held' THEN memory_mb ELSE 0 END),
                  SUM(CASE WHEN status = 'held' THEN storage_mb ELSE 0 END), SUM(CASE WHEN status = 'held' THEN vm_count ELSE 0 END)
                FROM quota_holds WHERE status IN ('committed', 'held') GROUP BY tenant_id;
                """, transaction);
            fill.ExecuteNonQuery();
        }
        if (AddColumnIfMissing(transaction, "tenant_resources", "image_id", "TEXT"))
        {
            // VMs linked before the column existed: the image their create task used.
            using var backfill = connection.Command(
                "UPDATE tenant_resources SET image_id = (SELECT json_extract(document, '$.enrichedData.imageId') FROM tasks WHERE tasks.id = tenant_resources.task_id) " +
                "WHERE image_id IS NULL AND kind = 'vm'", transaction);
            backfill.ExecuteNonQuery();
        }
        // Reconciliation (a VM gone or resized out of band); every VM linked before is present, its agent change time unknown.
        AddColumnIfMissing(transaction, "tenant_resources", "state", "TEXT NOT NULL DEFAULT 'present'");
        AddColumnIfMissing(transaction, "tenant_resources", "gone_at", "INTEGER");
        AddColumnIfMissing(transaction, "tenant_resources", "agent_changed_at", "INTEGER");
        AddColumnIfMissing(transaction, "tenant_resources", "recharged", "TEXT");
        using var index = connection.Command(
            "CREATE INDEX IF NOT EXISTS ix_resources_image ON tenant_resources(image_id) WHERE image_id IS NOT NULL;" +
            "CREATE INDEX IF NOT EXISTS ix_resources_agent ON tenant_resources(agent_id);", transaction);
        index.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>Liveness, drain, settled placements and the pickup window (issue 13's columns).</summary>
    private static void AddAgentLivenessColumns(SqliteTransaction transaction)
    {
        // status: what an admin set (active | draining); heartbeat_ts: the agent's clock when it measured its last heartbeat.
        AddColumnIfMissing(transaction, "agents", "status", "TEXT NOT NULL DEFAULT 'active'");
        AddColumnIfMissing(transaction, "agents", "heartbeat_ts", "INTEGER");
        AddColumnIfMissing(transaction, "agents", "heartbeat_interval_ms", "INTEGER");
        AddColumnIfMissing(transaction, "agents", "stopping_at", "INTEGER");
        AddColumnIfMissing(transaction, "agents", "consumers_lost_at", "INTEGER");
        // current | original: the agent's generation (MixedFleet.AgentGenerations), from its last heartbeat.
        AddColumnIfMissing(transaction, "agents", "generation", "TEXT NOT NULL DEFAULT 'current'");
        // When the task succeeded (the agent's clock): the placement counts until a heartbeat measured after that.
        AddColumnIfMissing(transaction, "placements", "settled_after", "INTEGER");
        // Past this the agent will not start the task, and another may be given it (null: no window).
        AddColumnIfMissing(transaction, "agent_outbox", "pickup_by", "INTEGER");
        // The orchestrator that stored the entry and sends it (null: stored before several orchestrators could share a file).
        AddColumnIfMissing(transaction, "agent_outbox", "owner", "TEXT");
        using var index = transaction.Connection!.Command("CREATE INDEX IF NOT EXISTS ix_agent_outbox_pickup ON agent_outbox(pickup_by) WHERE pickup_by IS NOT NULL;", transaction);
        index.ExecuteNonQuery();
    }

    private static bool TableExists(SqliteTransaction transaction, string table)
    {
        using var command = transaction.Connection!.Command("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $name", transaction).With("$name", table);
        return Convert.ToInt64(command.ExecuteScalar()) > 0;
    }

    /// <summary>Columns added after a table's first release: a file made by an earlier version gets them at start (true when added now).</summary>
    private static bool AddColumnIfMissing(SqliteTransaction transaction, string table, string column, string definition)
    {
        using var columns = transaction.Connection!.Command($"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $column", transaction).With("$column", column);
        if (Convert.ToInt64(columns.ExecuteScalar()) > 0)
            return false;
        using var add = transaction.Connection!.Command($"ALTER TABLE {table} ADD COLUMN {column} {definition}", transaction);
        add.ExecuteNonQuery();
        return true;
    }

    private const string QuotaCountersSchema = """
        -- Per tenant: the sums of its committed rows (used) and live holds (held) in quota_holds, kept in the
        -- same transaction as every change of a row, so that a hold reads one row whatever the history.
        CREATE TABLE IF NOT EXISTS quota_usage (
            tenant_id TEXT PRIMARY KEY,
            used_cpu INTEGER NOT NULL DEFAULT 0,
            used_memory_mb INTEGER NOT NULL DEFAULT 0,
            used_storage_mb INTEGER NOT NULL DEFAULT 0,
            used_vm_count INTEGER NOT NULL DEFAULT 0,
            held_cpu INTEGER NOT NULL DEFAULT 0,
            held_memory_mb INTEGER NOT NULL DEFAULT 0,
            held_storage_mb INTEGER NOT NULL DEFAULT 0,
            held_vm_count INTEGER NOT NULL DEFAULT 0
        );
        """;

    // A task's row, live (tasks) or archived (tasks_archive).
    private const string TaskColumns = """
        id TEXT PRIMARY KEY, version INTEGER NOT NULL, current_state TEXT NOT NULL, tenant_id TEXT NOT NULL, action TEXT NOT NULL,
        status TEXT NOT NULL, agent_id TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deadline_at INTEGER, document TEXT NOT NULL
        """;

    private const string Schema = $"""
        CREATE TABLE IF NOT EXISTS tasks (
            {TaskColumns}
        );
        CREATE INDEX IF NOT EXISTS ix_tasks_tenant_created ON tasks(tenant_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS ix_tasks_created ON tasks(created_at DESC);
        CREATE INDEX IF NOT EXISTS ix_tasks_deadline ON tasks(deadline_at) WHERE deadline_at IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_tasks_status_updated ON tasks(status, updated_at);

        -- Ended tasks past Retention.FinishedTasks, moved out of tasks whole (same columns and document), read by id by admins.
        CREATE TABLE IF NOT EXISTS tasks_archive (
            {TaskColumns},
            archived_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_tasks_archive_tenant ON tasks_archive(tenant_id);

        CREATE TABLE IF NOT EXISTS tenants (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            limit_cpu INTEGER NOT NULL,
            limit_memory_mb INTEGER NOT NULL,
            limit_storage_mb INTEGER NOT NULL,
            limit_vm_count INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );

        -- One row per task that reserved quota. status: held, committed, released, expired.
        -- Usage = committed rows; held = rows still 'held' and not expired.
        CREATE TABLE IF NOT EXISTS quota_holds (
            task_id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            agent_id TEXT,
            cpu INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            storage_mb INTEGER NOT NULL,
            vm_count INTEGER NOT NULL,
            status TEXT NOT NULL,
            over_limit INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            settled_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS ix_quota_holds_tenant_expiry ON quota_holds(tenant_id, status, expires_at);
        CREATE INDEX IF NOT EXISTS ix_quota_holds_expiry ON quota_holds(status, expires_at);
        CREATE INDEX IF NOT EXISTS ix_quota_holds_settled ON quota_holds(settled_at) WHERE settled_at IS NOT NULL;

        -- The readiness check's write (one row, rewritten).
        CREATE TABLE IF NOT EXISTS store_probe (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL
        );

        -- Every task transition, numbered in commit order: what server-sent event streams and webhooks read.
        CREATE TABLE IF NOT EXISTS task_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            status TEXT NOT NULL,
            at INTEGER NOT NULL,
            error_code TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_task_events_tenant ON task_events(tenant_id, seq);
        CREATE INDEX IF NOT EXISTS ix_task_events_task ON task_events(task_id, seq);

        -- Webhooks and where delivery to each stands (the outbox: cursor = the last task_events.seq delivered or skipped).
        -- events: a JSON array of patterns; secret: the signing secret as given to the tenant (the file is private to the service).
        CREATE TABLE IF NOT EXISTS webhooks (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            url TEXT NOT NULL,
            events TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            status TEXT NOT NULL,
            cursor INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            next_attempt_at INTEGER,
            last_attempt_at INTEGER,
            last_delivered_at INTEGER,
            last_error TEXT,
            disabled_at INTEGER,
            disabled_reason TEXT
        );
        CREATE INDEX IF NOT EXISTS ix_webhooks_tenant ON webhooks(tenant_id, created_at);
        CREATE INDEX IF NOT EXISTS ix_webhooks_due ON webhooks(status, next_attempt_at);

        -- Messages the broker's error queues held (orchestrator.results_error, orchestrator.tasks_error), kept for admins to read and replay.
        CREATE TABLE IF NOT EXISTS dead_letters (
            id TEXT PRIMARY KEY,
            queue TEXT NOT NULL,
            task_id TEXT,
            routing_key TEXT,
            content_type TEXT,
            body BLOB NOT NULL,
            sender_user TEXT,
            reason TEXT,
            exception_type TEXT,
            received_at INTEGER NOT NULL,
            replayed_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS ix_dead_letters_task ON dead_letters(task_id, received_at);
        CREATE INDEX IF NOT EXISTS ix_dead_letters_received ON dead_letters(received_at);

        -- Tasks stored for their agent and not yet known to have reached it: sent after their transaction commits,
        -- sent again after a crash, removed once the agent answers or the task ends.
        CREATE TABLE IF NOT EXISTS agent_outbox (
            task_id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );

        CREATE TABLE IF NOT EXISTS agents (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            version TEXT NOT NULL,
            last_heartbeat_at INTEGER NOT NULL,
            capabilities TEXT NOT NULL,
            capacity_cpu INTEGER, capacity_memory_mb INTEGER, capacity_storage_mb INTEGER,
            free_cpu INTEGER, free_memory_mb INTEGER, free_storage_mb INTEGER,
            vm_count INTEGER NOT NULL DEFAULT 0
        );

        -- Moves whenever the registry changes in a way an election reads (Agents.AgentRegistryChanges).
        CREATE TABLE IF NOT EXISTS agent_registry (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO agent_registry (id, version) VALUES (1, 0);

        CREATE TABLE IF NOT EXISTS agent_inventory (
            agent_id TEXT PRIMARY KEY,
            inventory TEXT NOT NULL,
            received_at INTEGER NOT NULL
        );

        -- What an elected, unfinished task will take on its agent (not yet visible in heartbeats).
        CREATE TABLE IF NOT EXISTS placements (
            task_id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            cpu INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            storage_mb INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_placements_agent ON placements(agent_id);

        CREATE TABLE IF NOT EXISTS images (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            file TEXT NOT NULL,
            generation INTEGER NOT NULL,
            min_storage_gb INTEGER NOT NULL,
            os TEXT,
            is_default INTEGER NOT NULL DEFAULT 0,
            published_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_images_name ON images(name, published_at DESC);

        CREATE TABLE IF NOT EXISTS tenant_resources (
            id TEXT PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            name TEXT NOT NULL,
            task_id TEXT NOT NULL,
            late INTEGER NOT NULL DEFAULT 0,
            spec TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_resources_tenant ON tenant_resources(tenant_id, kind, name);

        -- A VM name is reserved by the task creating it and kept while the VM exists.
        CREATE TABLE IF NOT EXISTS vm_names (
            tenant_id TEXT NOT NULL,
            name TEXT NOT NULL COLLATE NOCASE,
            task_id TEXT NOT NULL,
            PRIMARY KEY (tenant_id, name)
        );

        -- Single flight: the task that is changing a VM.
        CREATE TABLE IF NOT EXISTS vm_locks (
            resource_id TEXT PRIMARY KEY,
            task_id TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_vm_locks_task ON vm_locks(task_id);

        -- Per agent, its last reconciled inventory: when the agent collected it, and the VMs on it that no resource links (JSON).
        CREATE TABLE IF NOT EXISTS agent_reconciliations (
            agent_id TEXT PRIMARY KEY,
            collected_at INTEGER NOT NULL,
            reconciled_at INTEGER NOT NULL,
            unmanaged TEXT NOT NULL
        );

        -- Background jobs that one orchestrator at a time runs (Cluster.ClusterJobs), and each live orchestrator's own lease.
        CREATE TABLE IF NOT EXISTS job_leases (
            job TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        );

        CREATE TABLE IF NOT EXISTS idempotency_keys (
            tenant_id TEXT NOT NULL,
            key TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            task_id TEXT NOT NULL,
            status_code INTEGER,
            response TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (tenant_id, key)
        );
        CREATE INDEX IF NOT EXISTS ix_idempotency_keys_created ON idempotency_keys(created_at);
        """;
}

internal static class SqliteExtensions
{
    public static long ToUnixMs(this DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMs(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

    public static SqliteCommand With(this SqliteCommand command, string name, object? value)
    {
        command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public static SqliteCommand Command(this SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }
}
