using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteAgentOutbox(SqliteDatabase database, Cluster.OrchestratorInstance instance) : IAgentOutbox
{
    public async Task AddAsync(AgentTask task, DateTimeOffset at, DateTimeOffset? pickupBy, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO agent_outbox (task_id, agent_id, message, created_at, pickup_by, owner) VALUES ($id, $agent, $message, $at, $pickup, $owner) " +
            "ON CONFLICT(task_id) DO UPDATE SET agent_id = excluded.agent_id, message = excluded.message, pickup_by = excluded.pickup_by, owner = excluded.owner")
            .With("$id", task.TaskId.ToString()).With("$agent", task.AgentId)
            .With("$message", JsonSerializer.Serialize(task, JsonSerializerOptions.Web)).With("$at", at.ToUnixMs()).With("$pickup", pickupBy?.ToUnixMs()).With("$owner", instance.Id);
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

    public async Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0, string? owner = null)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT message FROM agent_outbox WHERE created_at <= $before AND ($owner IS NULL OR owner = $owner) " +
                "ORDER BY created_at, task_id LIMIT $limit OFFSET $skip")
            .With("$before", before.ToUnixMs()).With("$limit", limit).With("$skip", skip).With("$owner", owner);
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<long> AdoptAsync(string owner, IReadOnlySet<string> liveOwners, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE agent_outbox SET owner = $owner WHERE owner IS NULL OR owner NOT IN (SELECT value FROM json_each($live))")
            .With("$owner", owner).With("$live", JsonSerializer.Serialize(liveOwners));
        var adopted = await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return adopted;
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
