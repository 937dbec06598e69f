using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.DeadLetters;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteDeadLetterStore(SqliteDatabase database) : IDeadLetterStore
{
    private const string Columns = "id, queue, task_id, routing_key, content_type, body, sender_user, reason, exception_type, received_at, replayed_at";

    public async Task<bool> TryAddAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            $"INSERT INTO dead_letters ({Columns}) VALUES ($id, $queue, $task, $key, $type, $body, $sender, $reason, $exception, $received, $replayed) " +
            "ON CONFLICT(id) DO NOTHING")
            .With("$id", letter.Id.ToString()).With("$queue", letter.Queue).With("$task", letter.TaskId?.ToString()).With("$key", letter.RoutingKey)
            .With("$type", letter.ContentType).With("$body", letter.Body).With("$sender", letter.SenderUser).With("$reason", letter.Reason)
            .With("$exception", letter.ExceptionType).With("$received", letter.ReceivedAt.ToUnixMs()).With("$replayed", letter.ReplayedAt?.ToUnixMs());
        var added = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return added;
    }

    public async Task<DeadLetter?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command($"SELECT {Columns} FROM dead_letters WHERE id = $id").With("$id", id.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<DeadLetter>> ListAsync(Guid? taskId, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            $"SELECT {Columns} FROM dead_letters WHERE ($task IS NULL OR task_id = $task) ORDER BY received_at DESC, id LIMIT $limit OFFSET $offset")
            .With("$task", taskId?.ToString()).With("$limit", limit).With("$offset", offset);
        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            letters.Add(Read(reader));
        return letters;
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT COUNT(*) FROM dead_letters");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<bool> MarkReplayedAsync(Guid id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE dead_letters SET replayed_at = $at WHERE id = $id AND replayed_at IS NULL")
            .With("$id", id.ToString()).With("$at", at.ToUnixMs());
        var marked = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return marked;
    }

    public async Task UnmarkReplayedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE dead_letters SET replayed_at = NULL WHERE id = $id").With("$id", id.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    private static DeadLetter Read(SqliteDataReader reader)
    {
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        return new DeadLetter(
            Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.IsDBNull(2) ? null : Guid.Parse(reader.GetString(2)), Text(3), Text(4),
            (byte[])reader.GetValue(5), Text(6), Text(7), Text(8), SqliteExtensions.FromUnixMs(reader.GetInt64(9)),
            reader.IsDBNull(10) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(10)));
    }
}
