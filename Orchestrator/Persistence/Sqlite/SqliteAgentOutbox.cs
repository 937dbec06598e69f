using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteAgentOutbox(SqliteDatabase database) : IAgentOutbox
{
    public async Task AddAsync(AgentTask task, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO agent_outbox (task_id, agent_id, message, created_at) VALUES ($id, $agent, $message, $at) " +
            "ON CONFLICT(task_id) DO UPDATE SET agent_id = excluded.agent_id, message = excluded.message")
            .With("$id", task.TaskId.ToString()).With("$agent", task.AgentId)
            .With("$message", JsonSerializer.Serialize(task, JsonSerializerOptions.Web)).With("$at", at.ToUnixMs());
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
        var result = new List<AgentTask>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add(JsonSerializer.Deserialize<AgentTask>(reader.GetString(0), JsonSerializerOptions.Web)!);
        return result;
    }
}
