using Microsoft.Data.Sqlite;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>
/// <c>task_events</c>: the sequence is SQLite's AUTOINCREMENT rowid, never reused, and since writes are serialized (one writer)
/// sequences commit in order.
/// </summary>
public sealed class SqliteTaskEventLog(SqliteDatabase database) : ITaskEventLog
{
    private const string Columns = "seq, task_id, tenant_id, action, from_state, to_state, status, at, error_code";

    public async Task<long> AppendAsync(TaskStateChanged change, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO task_events (task_id, tenant_id, action, from_state, to_state, status, at, error_code) " +
            "VALUES ($task, $tenant, $action, $from, $to, $status, $at, $error) RETURNING seq")
            .With("$task", change.TaskId.ToString()).With("$tenant", change.TenantId).With("$action", change.Action).With("$from", change.From)
            .With("$to", change.To).With("$status", change.Status).With("$at", change.Timestamp.ToUnixMs()).With("$error", change.ErrorCode);
        var sequence = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        await lease.CommitAsync(cancellationToken);
        return sequence;
    }

    public async Task<IReadOnlyList<TaskEvent>> ReadAsync(TaskEventQuery query, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            $"SELECT {Columns} FROM task_events WHERE seq > $after AND ($tenant IS NULL OR tenant_id = $tenant) AND ($task IS NULL OR task_id = $task) " +
            "ORDER BY seq LIMIT $limit")
            .With("$after", query.After).With("$tenant", query.TenantId).With("$task", query.TaskId?.ToString()).With("$limit", query.Limit);
        var events = new List<TaskEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            events.Add(Read(reader));
        return events;
    }

    public async Task<long> LastSequenceAsync(CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT COALESCE(MAX(seq), 0) FROM task_events");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static TaskEvent Read(SqliteDataReader reader) => new(
        reader.GetInt64(0), Guid.Parse(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.GetString(5), reader.GetString(6), SqliteExtensions.FromUnixMs(reader.GetInt64(7)), reader.IsDBNull(8) ? null : reader.GetString(8));
}
