using Microsoft.Data.Sqlite;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>The quota ledger (<c>quota_holds</c>) and its counters (<c>quota_usage</c>).</summary>
public sealed class SqliteQuotaStore(SqliteDatabase database) : IQuotaStore
{
    private const string Columns = "task_id, tenant_id, agent_id, cpu, memory_mb, storage_mb, vm_count, status, created_at, expires_at, over_limit, hold_lapsed";

    public async Task<QuotaLedgerEntry?> GetEntryAsync(string key, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command($"SELECT {Columns} FROM quota_holds WHERE task_id = $key").With("$key", key);
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    public async Task<QuotaCounters> GetCountersAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            "SELECT used_cpu, used_memory_mb, used_storage_mb, used_vm_count, held_cpu, held_memory_mb, held_storage_mb, held_vm_count " +
            "FROM quota_usage WHERE tenant_id = $tenant").With("$tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return QuotaCounters.Zero;
        return new QuotaCounters(new QuotaAmounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)),
            new QuotaAmounts(reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7)));
    }

    public async Task<IReadOnlyList<QuotaLedgerEntry>> FindLapsedAsync(string? tenantId, DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            $"SELECT {Columns} FROM quota_holds WHERE status = 'held' AND expires_at <= $now AND ($tenant IS NULL OR tenant_id = $tenant) ORDER BY expires_at LIMIT $limit")
            .With("$now", now.ToUnixMs()).With("$tenant", tenantId).With("$limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<long> CountHeldAsync(CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT COUNT(*) FROM quota_holds WHERE status = 'held'");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<bool> TryInsertAsync(QuotaLedgerEntry entry, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            $"INSERT INTO quota_holds ({Columns}, settled_at) VALUES ($key, $tenant, $agent, $cpu, $mem, $storage, $vms, $status, $created, $expires, $over, $lapsed, $settled) " +
            "ON CONFLICT(task_id) DO NOTHING")
            .With("$key", entry.Key).With("$tenant", entry.TenantId).With("$agent", entry.AgentId)
            .With("$cpu", entry.Amounts.Cpu).With("$mem", entry.Amounts.MemoryMB).With("$storage", entry.Amounts.StorageMB).With("$vms", entry.Amounts.VmCount)
            .With("$status", entry.Status).With("$created", entry.CreatedAt.ToUnixMs()).With("$expires", entry.ExpiresAt.ToUnixMs())
            .With("$over", entry.OverLimit ? 1 : 0).With("$lapsed", entry.HoldLapsed ? 1 : 0)
            .With("$settled", entry.Status == Tasks.QuotaHoldStatuses.Held ? null : entry.CreatedAt.ToUnixMs());
        var inserted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return inserted;
    }

    public async Task<bool> TrySettleAsync(string key, string expectedStatus, string status, QuotaAmounts amounts, bool overLimit, bool holdLapsed,
        DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "UPDATE quota_holds SET status = $status, cpu = $cpu, memory_mb = $mem, storage_mb = $storage, vm_count = $vms, " +
            "over_limit = $over, hold_lapsed = $lapsed, settled_at = $at WHERE task_id = $key AND status = $expected")
            .With("$key", key).With("$expected", expectedStatus).With("$status", status)
            .With("$cpu", amounts.Cpu).With("$mem", amounts.MemoryMB).With("$storage", amounts.StorageMB).With("$vms", amounts.VmCount)
            .With("$over", overLimit ? 1 : 0).With("$lapsed", holdLapsed ? 1 : 0).With("$at", at.ToUnixMs());
        var settled = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return settled;
    }

    public async Task AddToCountersAsync(string tenantId, QuotaAmounts used, QuotaAmounts held, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            """
            INSERT INTO quota_usage (tenant_id, used_cpu, used_memory_mb, used_storage_mb, used_vm_count, held_cpu, held_memory_mb, held_storage_mb, held_vm_count)
            VALUES ($tenant, $ucpu, $umem, $ustorage, $uvms, $hcpu, $hmem, $hstorage, $hvms)
            ON CONFLICT(tenant_id) DO UPDATE SET
                used_cpu = used_cpu + $ucpu, used_memory_mb = used_memory_mb + $umem, used_storage_mb = used_storage_mb + $ustorage, used_vm_count = used_vm_count + $uvms,
                held_cpu = held_cpu + $hcpu, held_memory_mb = held_memory_mb + $hmem, held_storage_mb = held_storage_mb + $hstorage, held_vm_count = held_vm_count + $hvms
            """)
            .With("$tenant", tenantId)
            .With("$ucpu", used.Cpu).With("$umem", used.MemoryMB).With("$ustorage", used.StorageMB).With("$uvms", used.VmCount)
            .With("$hcpu", held.Cpu).With("$hmem", held.MemoryMB).With("$hstorage", held.StorageMB).With("$hvms", held.VmCount);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    private static async Task<IReadOnlyList<QuotaLedgerEntry>> ReadAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var result = new List<QuotaLedgerEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new QuotaLedgerEntry(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                new QuotaAmounts(reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)), reader.GetString(7),
                SqliteExtensions.FromUnixMs(reader.GetInt64(8)), SqliteExtensions.FromUnixMs(reader.GetInt64(9)),
                reader.GetInt32(10) == 1, reader.GetInt32(11) == 1));
        }
        return result;
    }
}
