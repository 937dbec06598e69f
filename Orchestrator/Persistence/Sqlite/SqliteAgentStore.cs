using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using System.Text.Json;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteAgentStore(SqliteDatabase database, TimeProvider clock, IOptions<OrchestratorOptions>? options = null) : IAgentStore
{
    private AgentFleetOptions Fleet => options?.Value.Agents ?? new AgentFleetOptions();

    public async Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        var before = (await ReadAsync(lease, heartbeat.AgentId, cancellationToken)).FirstOrDefault();
        if (AgentRegistryChanges.ByHeartbeat(before, heartbeat, receivedAt, Fleet))
            await MoveRegistryVersionAsync(lease, cancellationToken);
        await using var command = lease.Command(
            """
            INSERT INTO agents (id, host, version, last_heartbeat_at, capabilities, capacity_cpu, capacity_memory_mb, capacity_storage_mb,
                free_cpu, free_memory_mb, free_storage_mb, vm_count, heartbeat_ts, heartbeat_interval_ms, stopping_at, generation)
            VALUES ($id, $host, $version, $at, $caps, $ccpu, $cmem, $cstorage, $fcpu, $fmem, $fstorage, $vms, $ts, $interval, $stopping, $generation)
            ON CONFLICT(id) DO UPDATE SET host = excluded.host, version = excluded.version, last_heartbeat_at = excluded.last_heartbeat_at,
                capabilities = excluded.capabilities, capacity_cpu = excluded.capacity_cpu, capacity_memory_mb = excluded.capacity_memory_mb,
                capacity_storage_mb = excluded.capacity_storage_mb, free_cpu = excluded.free_cpu, free_memory_mb = excluded.free_memory_mb,
                free_storage_mb = excluded.free_storage_mb, vm_count = excluded.vm_count, heartbeat_ts = excluded.heartbeat_ts,
                heartbeat_interval_ms = excluded.heartbeat_interval_ms, stopping_at = excluded.stopping_at, generation = excluded.generation
            WHERE excluded.last_heartbeat_at >= agents.last_heartbeat_at
                -- Measured later, or the agent's clock went back (a new record after a long silence).
                AND (agents.heartbeat_ts IS NULL OR excluded.heartbeat_ts >= agents.heartbeat_ts OR excluded.last_heartbeat_at > agents.last_heartbeat_at + 60000);
            DELETE FROM placements WHERE agent_id = $id AND settled_after IS NOT NULL
                AND settled_after <= (SELECT heartbeat_ts FROM agents WHERE id = $id);
            """)
            .With("$id", heartbeat.AgentId).With("$host", heartbeat.Host).With("$version", heartbeat.Version)
            .With("$at", receivedAt.ToUnixMs()).With("$caps", JsonSerializer.Serialize(heartbeat.Capabilities))
            .With("$ccpu", heartbeat.Capacity?.Cpu).With("$cmem", heartbeat.Capacity?.MemoryMB).With("$cstorage", heartbeat.Capacity?.StorageMB)
            .With("$fcpu", heartbeat.Free?.Cpu).With("$fmem", heartbeat.Free?.MemoryMB).With("$fstorage", heartbeat.Free?.StorageMB)
            .With("$vms", heartbeat.VmCount).With("$ts", heartbeat.Ts.ToUnixMs())
            .With("$interval", AgentLiveness.StoredIntervalMs(heartbeat.IntervalSeconds))
            .With("$stopping", heartbeat.Status == AgentStatuses.Stopping ? (long?)receivedAt.ToUnixMs() : null)
            .With("$generation", heartbeat.Generation ?? MixedFleet.AgentGenerations.Current);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<bool> SetStatusAsync(string agentId, string status, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE agents SET status = $status WHERE id = $id").With("$id", agentId).With("$status", status);
        var found = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        if (found)
            await MoveRegistryVersionAsync(lease, cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return found;
    }

    public async Task SetConsumersLostAsync(string agentId, DateTimeOffset? lostAt, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE agents SET consumers_lost_at = $at WHERE id = $id").With("$id", agentId).With("$at", lostAt?.ToUnixMs());
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
            await MoveRegistryVersionAsync(lease, cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task SettlePlacementAsync(Guid taskId, DateTimeOffset finishedAt, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("UPDATE placements SET settled_after = $at WHERE task_id = $id")
            .With("$id", taskId.ToString()).With("$at", finishedAt.ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        return await ReadAsync(lease, null, cancellationToken);
    }

    public async Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        return (await ReadAsync(lease, agentId, cancellationToken)).FirstOrDefault();
    }

    public async Task<AgentPlacement?> GetPlacementAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT agent_id, cpu, memory_mb, storage_mb FROM placements WHERE task_id = $id").With("$id", taskId.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new AgentPlacement(taskId, reader.GetString(0), new AgentCapacity(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)))
            : null;
    }

    public async Task<IReadOnlyDictionary<string, AgentCapacity>> InFlightAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            "SELECT agent_id, SUM(cpu), SUM(memory_mb), SUM(storage_mb) FROM placements WHERE task_id <> $exclude GROUP BY agent_id")
            .With("$exclude", taskId.ToString());
        var inFlight = new Dictionary<string, AgentCapacity>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            inFlight[reader.GetString(0)] = new AgentCapacity(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        return inFlight;
    }

    public async Task<long> RegistryVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT version FROM agent_registry WHERE id = 1");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L);
    }

    private static async Task MoveRegistryVersionAsync(SqliteLease lease, CancellationToken cancellationToken)
    {
        await using var command = lease.Command("UPDATE agent_registry SET version = version + 1 WHERE id = 1");
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task PlaceAsync(AgentPlacement placement, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var insert = lease.Command(
            "INSERT INTO placements (task_id, agent_id, cpu, memory_mb, storage_mb, created_at) VALUES ($id, $agent, $cpu, $mem, $storage, $now) " +
            "ON CONFLICT(task_id) DO UPDATE SET agent_id = excluded.agent_id, cpu = excluded.cpu, memory_mb = excluded.memory_mb, storage_mb = excluded.storage_mb, " +
            "settled_after = NULL")
            .With("$id", placement.TaskId.ToString()).With("$agent", placement.AgentId)
            .With("$cpu", placement.Requirement.Cpu).With("$mem", placement.Requirement.MemoryMB).With("$storage", placement.Requirement.StorageMB)
            .With("$now", clock.GetUtcNow().ToUnixMs());
        await insert.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM placements WHERE task_id = $id").With("$id", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO agent_inventory (agent_id, inventory, received_at) VALUES ($id, $inventory, $at) " +
            "ON CONFLICT(agent_id) DO UPDATE SET inventory = excluded.inventory, received_at = excluded.received_at")
            .With("$id", agentId).With("$inventory", inventory.GetRawText()).With("$at", receivedAt.ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT inventory, received_at FROM agent_inventory WHERE agent_id = $id").With("$id", agentId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return (JsonDocument.Parse(reader.GetString(0)).RootElement.Clone(), SqliteExtensions.FromUnixMs(reader.GetInt64(1)));
    }

    private static async Task<IReadOnlyList<AgentRecord>> ReadAsync(SqliteLease lease, string? agentId, CancellationToken cancellationToken)
    {
        // One agent by its key (an OR with a null parameter would scan the registry).
        var where = agentId is null ? "" : "WHERE a.id = $agent";
        await using var command = lease.Command(
            $"""
            SELECT a.id, a.host, a.version, a.last_heartbeat_at, a.capabilities,
                a.capacity_cpu, a.capacity_memory_mb, a.capacity_storage_mb, a.free_cpu, a.free_memory_mb, a.free_storage_mb, a.vm_count,
                COALESCE(SUM(p.cpu), 0), COALESCE(SUM(p.memory_mb), 0), COALESCE(SUM(p.storage_mb), 0),
                a.status, a.heartbeat_interval_ms, a.stopping_at, a.consumers_lost_at, a.generation
            FROM agents a LEFT JOIN placements p ON p.agent_id = a.id
            {where}
            GROUP BY a.id ORDER BY a.id
            """).With("$agent", agentId);
        var result = new List<AgentRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            AgentCapacity? Capacity(int i) => reader.IsDBNull(i) ? null : new AgentCapacity(reader.GetInt64(i), reader.GetInt64(i + 1), reader.GetInt64(i + 2));
            result.Add(new AgentRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), SqliteExtensions.FromUnixMs(reader.GetInt64(3)),
                JsonSerializer.Deserialize<string[]>(reader.GetString(4)) ?? [],
                Capacity(5), Capacity(8), reader.GetInt32(11),
                new AgentCapacity(reader.GetInt64(12), reader.GetInt64(13), reader.GetInt64(14)),
                reader.GetString(15),
                reader.IsDBNull(16) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(16)),
                reader.IsDBNull(17) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(17)),
                reader.IsDBNull(18) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(18)),
                reader.GetString(19)));
        }
        return result;
    }
}
