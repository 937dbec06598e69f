using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Agents;

/// <summary>What the registry knows of an agent, plus what unfinished tasks placed on it will take.</summary>
public sealed record AgentRecord(
    string AgentId,
    string Host,
    string Version,
    DateTimeOffset LastHeartbeatAt,
    IReadOnlyList<string> Capabilities,
    AgentCapacity? Capacity,
    AgentCapacity? Free,
    int VmCount,
    AgentCapacity InFlight);

public interface IAgentStore
{
    Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default);
    Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs <paramref name="elect"/> over the registry and, when it picks an agent, reserves the
    /// requirement on that agent, all in one serialized step, so a burst of elections does not pile
    /// onto one host. Idempotent per task.
    /// </summary>
    Task<ElectionDecision> ElectAsync(Guid taskId, Func<IReadOnlyList<AgentRecord>, ElectionDecision> elect, CancellationToken cancellationToken = default);

    Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default);

    Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default);
    Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default);
}

public sealed class SqliteAgentStore(SqliteDatabase database, TimeProvider clock) : IAgentStore
{
    public async Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO agents (id, host, version, last_heartbeat_at, capabilities, capacity_cpu, capacity_memory_mb, capacity_storage_mb,
                free_cpu, free_memory_mb, free_storage_mb, vm_count)
            VALUES ($id, $host, $version, $at, $caps, $ccpu, $cmem, $cstorage, $fcpu, $fmem, $fstorage, $vms)
            ON CONFLICT(id) DO UPDATE SET host = excluded.host, version = excluded.version, last_heartbeat_at = excluded.last_heartbeat_at,
                capabilities = excluded.capabilities, capacity_cpu = excluded.capacity_cpu, capacity_memory_mb = excluded.capacity_memory_mb,
                capacity_storage_mb = excluded.capacity_storage_mb, free_cpu = excluded.free_cpu, free_memory_mb = excluded.free_memory_mb,
                free_storage_mb = excluded.free_storage_mb, vm_count = excluded.vm_count
            WHERE excluded.last_heartbeat_at >= agents.last_heartbeat_at
            """)
            .With("$id", heartbeat.AgentId).With("$host", heartbeat.Host).With("$version", heartbeat.Version)
            .With("$at", receivedAt.ToUnixMs()).With("$caps", JsonSerializer.Serialize(heartbeat.Capabilities))
            .With("$ccpu", heartbeat.Capacity?.Cpu).With("$cmem", heartbeat.Capacity?.MemoryMB).With("$cstorage", heartbeat.Capacity?.StorageMB)
            .With("$fcpu", heartbeat.Free?.Cpu).With("$fmem", heartbeat.Free?.MemoryMB).With("$fstorage", heartbeat.Free?.StorageMB)
            .With("$vms", heartbeat.VmCount);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ReadAsync(connection, null, null, cancellationToken);
    }

    public async Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await ReadAsync(connection, null, agentId, cancellationToken)).FirstOrDefault();
    }

    public async Task<ElectionDecision> ElectAsync(Guid taskId, Func<IReadOnlyList<AgentRecord>, ElectionDecision> elect, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        // Idempotent per task: a re-sent election keeps the placement it already made.
        await using (var existing = connection.Command("SELECT agent_id, cpu, memory_mb, storage_mb FROM placements WHERE task_id = $id", transaction)
            .With("$id", taskId.ToString()))
        await using (var reader = await existing.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
                return new ElectionDecision(reader.GetString(0), new QuotaAmounts(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), 0), []);
        }
        var agents = await ReadAsync(connection, transaction, null, cancellationToken, excludeTask: taskId);
        var decision = elect(agents);
        if (decision.AgentId is not null)
        {
            await using var insert = connection.Command(
                "INSERT INTO placements (task_id, agent_id, cpu, memory_mb, storage_mb, created_at) VALUES ($id, $agent, $cpu, $mem, $storage, $now) " +
                "ON CONFLICT(task_id) DO UPDATE SET agent_id = excluded.agent_id, cpu = excluded.cpu, memory_mb = excluded.memory_mb, storage_mb = excluded.storage_mb",
                transaction)
                .With("$id", taskId.ToString()).With("$agent", decision.AgentId)
                .With("$cpu", decision.Requirement.Cpu).With("$mem", decision.Requirement.MemoryMB).With("$storage", decision.Requirement.StorageMB)
                .With("$now", clock.GetUtcNow().ToUnixMs());
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return decision;
    }

    public async Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("DELETE FROM placements WHERE task_id = $id").With("$id", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "INSERT INTO agent_inventory (agent_id, inventory, received_at) VALUES ($id, $inventory, $at) " +
            "ON CONFLICT(agent_id) DO UPDATE SET inventory = excluded.inventory, received_at = excluded.received_at")
            .With("$id", agentId).With("$inventory", inventory.GetRawText()).With("$at", receivedAt.ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT inventory, received_at FROM agent_inventory WHERE agent_id = $id").With("$id", agentId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return (JsonDocument.Parse(reader.GetString(0)).RootElement.Clone(), SqliteExtensions.FromUnixMs(reader.GetInt64(1)));
    }

    private static async Task<IReadOnlyList<AgentRecord>> ReadAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, string? agentId,
        CancellationToken cancellationToken, Guid? excludeTask = null)
    {
        await using var command = connection.Command(
            """
            SELECT a.id, a.host, a.version, a.last_heartbeat_at, a.capabilities,
                a.capacity_cpu, a.capacity_memory_mb, a.capacity_storage_mb, a.free_cpu, a.free_memory_mb, a.free_storage_mb, a.vm_count,
                COALESCE(SUM(p.cpu), 0), COALESCE(SUM(p.memory_mb), 0), COALESCE(SUM(p.storage_mb), 0)
            FROM agents a LEFT JOIN placements p ON p.agent_id = a.id AND ($exclude IS NULL OR p.task_id <> $exclude)
            WHERE $agent IS NULL OR a.id = $agent
            GROUP BY a.id ORDER BY a.id
            """, transaction).With("$agent", agentId).With("$exclude", excludeTask?.ToString());
        var result = new List<AgentRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            AgentCapacity? Capacity(int i) => reader.IsDBNull(i) ? null : new AgentCapacity(reader.GetInt64(i), reader.GetInt64(i + 1), reader.GetInt64(i + 2));
            result.Add(new AgentRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), SqliteExtensions.FromUnixMs(reader.GetInt64(3)),
                JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? [],
                Capacity(5), Capacity(8), reader.GetInt32(11),
                new AgentCapacity(reader.GetInt64(12), reader.GetInt64(13), reader.GetInt64(14))));
        }
        return result;
    }
}
