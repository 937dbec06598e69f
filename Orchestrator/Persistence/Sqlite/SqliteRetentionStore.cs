using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>Retention's batches on SQLite: each one write transaction (BEGIN IMMEDIATE) over at most a batch of rows.</summary>
public sealed class SqliteRetentionStore(SqliteDatabase database, TimeProvider clock) : IRetentionStore
{
    private const string TaskColumns = "id, version, current_state, tenant_id, action, status, agent_id, created_at, updated_at, deadline_at, document";

    internal static readonly string EndedStatuses = string.Join(", ", TaskStatuses.All.Where(TaskStatuses.IsFinal).Select(s => $"'{s}'"));

    private const string SettledStatuses = $"'{QuotaHoldStatuses.Committed}', '{QuotaHoldStatuses.Released}', '{QuotaHoldStatuses.Expired}'";

    // Of the batch's ids ($ids, a JSON array): their rows elsewhere, then the tasks themselves, once copied to the archive.
    private static readonly string[] ArchiveBatch =
    [
        $"INSERT OR REPLACE INTO tasks_archive ({TaskColumns}, archived_at) SELECT {TaskColumns}, $now FROM tasks WHERE id IN (SELECT value FROM json_each($ids))",
        "DELETE FROM task_events WHERE task_id IN (SELECT value FROM json_each($ids))",
        "DELETE FROM placements WHERE task_id IN (SELECT value FROM json_each($ids))",
        "DELETE FROM vm_locks WHERE task_id IN (SELECT value FROM json_each($ids))",
        "DELETE FROM agent_outbox WHERE task_id IN (SELECT value FROM json_each($ids))",
        "DELETE FROM tasks WHERE id IN (SELECT value FROM json_each($ids))",
    ];

    public async Task<int> ArchiveFinishedTasksAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        string ids;
        int count;
        await using (var select = lease.Command(
            $"SELECT json_group_array(id), COUNT(*) FROM (SELECT id FROM tasks WHERE status IN ({EndedStatuses}) AND updated_at <= $before LIMIT $limit)")
            .With("$before", before.ToUnixMs()).With("$limit", limit))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (ids, count) = (reader.GetString(0), reader.GetInt32(1));
        }
        if (count == 0)
            return 0;
        foreach (var sql in ArchiveBatch)
        {
            await using var command = lease.Command(sql).With("$ids", ids).With("$now", clock.GetUtcNow().ToUnixMs());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await lease.CommitAsync(cancellationToken);
        return count;
    }

    public async Task<TaskState?> LoadArchivedAsync(Guid taskId, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT version, document FROM tasks_archive WHERE id = $id").With("$id", taskId.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        var task = JsonSerializer.Deserialize<TaskState>(reader.GetString(1), SqliteTaskStore.Json)!;
        task.Version = reader.GetInt32(0);
        return task;
    }

    public Task<int> DeleteIdempotencyKeysAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
        => DeleteAsync("DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at <= $before LIMIT $limit)",
            before, limit, cancellationToken);

    public Task<int> CompactSettledHoldsAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
        => DeleteAsync(
            $"""
            DELETE FROM quota_holds WHERE rowid IN (
                SELECT q.rowid FROM quota_holds q
                WHERE q.settled_at <= $before AND q.status IN ({SettledStatuses})
                  AND (EXISTS (SELECT 1 FROM tasks t WHERE t.id = q.task_id AND t.status IN ({EndedStatuses}))
                       OR EXISTS (SELECT 1 FROM tasks_archive a WHERE a.id = q.task_id))
                LIMIT $limit)
            """, before, limit, cancellationToken);

    private async Task<int> DeleteAsync(string sql, DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(sql).With("$before", before.ToUnixMs()).With("$limit", limit);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return deleted;
    }
}
