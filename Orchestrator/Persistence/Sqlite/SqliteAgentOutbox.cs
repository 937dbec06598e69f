using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteAgentOutbox(SqliteDatabase database) : IAgentOutbox
{
    public async Task AddAsync(AgentTask task, DateTimeOffset at, DateTimeOffset? pickupBy, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO agent_outbox (task_id, agent_id, message, created_at, pickup_by) VALUES ($id, $agent, $message, $at, $pickup) " +
            "ON CONFLICT(task_id) DO UPDATE SET agent_id = excluded.agent_id, message = excluded.message, pickup_by = excluded.pickup_by")
            .With("$id", task.TaskId.ToString()).With("$agent", task.AgentId)
            .With("$message", JsonSerializer.Serialize(task, JsonSerializerOptions.Web)).With("$at", at.ToUnixMs()).With("$pickup", pickupBy?.ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task RemoveAsync(Guid taskId, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM agent_outbox WHERE task_id = $id").With("$id", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT message FROM agent_outbox WHERE created_at <= $before ORDER BY created_at, task_id LIMIT $limit OFFSET $skip")
            .With("$before", before.ToUnixMs()).With("$limit", limit).With("$skip", skip);
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT COUNT(*) FROM agent_outbox");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<IReadOnlyList<AgentTask>> FindUnpickedAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT message FROM agent_outbox WHERE pickup_by IS NOT NULL AND pickup_by <= $now ORDER BY pickup_by LIMIT $limit")
            .With("$now", now.ToUnixMs()).With("$limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    private static async Task<IReadOnlyList<AgentTask>> ReadAsync(Microsoft.Data.Sqlite.SqliteCommand command, CancellationToken cancellationToken)
    {
        var result = new List<AgentTask>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add(JsonSerializer.Deserialize<AgentTask>(reader.GetString(0), JsonSerializerOptions.Web)!);
        return result;
    }
}
