using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Quotas;

public sealed record QuotaLine(long Limit, long Used, long Held);

public sealed record QuotaUsage(QuotaLine Cpu, QuotaLine MemoryMB, QuotaLine StorageMB, QuotaLine VmCount);

/// <summary>One limit a hold would exceed.</summary>
public sealed record QuotaExcess(string Resource, long Limit, long Used, long Held, long Requested);

public sealed record HoldOutcome(bool Held, DateTimeOffset ExpiresAt, IReadOnlyList<QuotaExcess> Exceeded);

/// <param name="HoldLapsed">the hold had expired or been released: the charge was booked without it</param>
public sealed record CommitOutcome(bool Committed, bool OverLimit, bool HoldLapsed = false);

public interface IQuotaStore
{
    /// <summary>Atomically reserves <paramref name="deltas"/> for a task unless a limit would be exceeded. Idempotent per task.</summary>
    Task<HoldOutcome> TryHoldAsync(Guid taskId, string tenantId, string? agentId, QuotaAmounts deltas, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Turns the task's hold into usage. A released or expired hold is charged anyway (flagged when over a limit) so
    /// that what an agent built is never untracked. Idempotent.</summary>
    Task<CommitOutcome> CommitAsync(Guid taskId, string tenantId, QuotaAmounts deltas, CancellationToken cancellationToken = default);

    /// <summary>Releases a live hold. Idempotent; a committed hold is left alone.</summary>
    Task ReleaseAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>Marks holds past their TTL as expired; returns how many.</summary>
    Task<int> ExpireAsync(DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<QuotaUsage?> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Adds a committed correction (positive or negative) to a tenant's usage, for example after a recount.</summary>
    Task AdjustAsync(string tenantId, QuotaAmounts delta, CancellationToken cancellationToken = default);
}

public sealed class SqliteQuotaStore(SqliteDatabase database, TimeProvider clock) : IQuotaStore
{

    public async Task<HoldOutcome> TryHoldAsync(Guid taskId, string tenantId, string? agentId, QuotaAmounts deltas, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        // BEGIN IMMEDIATE: the read of usage and the insert of the hold are one serialized step.
        await using var transaction = connection.BeginTransaction(deferred: false);

        await using (var existing = connection.Command("SELECT status, expires_at FROM quota_holds WHERE task_id = $id", transaction).With("$id", taskId.ToString()))
        await using (var reader = await existing.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
                return new HoldOutcome(true, SqliteExtensions.FromUnixMs(reader.GetInt64(1)), []);
        }

        var (limits, used, held) = await ReadAsync(connection, transaction, tenantId, now, cancellationToken);
        if (limits is null)
            return new HoldOutcome(false, now, [new QuotaExcess("tenant", 0, 0, 0, 0)]);

        var exceeded = QuotaRules.Exceeded(limits, used, held, deltas).ToList();
        if (exceeded.Count > 0)
            return new HoldOutcome(false, now, exceeded);

        var expiresAt = now + ttl;
        await using (var insert = connection.Command(
            "INSERT INTO quota_holds (task_id, tenant_id, agent_id, cpu, memory_mb, storage_mb, vm_count, status, created_at, expires_at) " +
            "VALUES ($id, $tenant, $agent, $cpu, $mem, $storage, $vms, 'held', $now, $expires)", transaction))
        {
            insert.With("$id", taskId.ToString()).With("$tenant", tenantId).With("$agent", agentId)
                .With("$cpu", deltas.Cpu).With("$mem", deltas.MemoryMB).With("$storage", deltas.StorageMB).With("$vms", deltas.VmCount)
                .With("$now", now.ToUnixMs()).With("$expires", expiresAt.ToUnixMs());
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new HoldOutcome(true, expiresAt, []);
    }

    public async Task<CommitOutcome> CommitAsync(Guid taskId, string tenantId, QuotaAmounts deltas, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);

        string? status = null;
        await using (var read = connection.Command("SELECT status, expires_at FROM quota_holds WHERE task_id = $id", transaction).With("$id", taskId.ToString()))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                status = reader.GetString(0);
                // Past its TTL a hold no longer counts, whether or not the sweeper has marked it yet.
                if (status == QuotaHoldStatuses.Held && reader.GetInt64(1) <= now.ToUnixMs())
                    status = QuotaHoldStatuses.Expired;
            }
        }
        if (status == QuotaHoldStatuses.Committed)
            return new CommitOutcome(true, false);

        var overLimit = false;
        if (status != QuotaHoldStatuses.Held)
        {
            // The hold is gone (released or expired): charge anyway, and flag it when it overbooks.
            var (limits, used, held) = await ReadAsync(connection, transaction, tenantId, now, cancellationToken);
            overLimit = limits is not null && QuotaRules.Exceeded(limits, used, held, deltas).Any();
        }

        await using (var upsert = connection.Command(
            "INSERT INTO quota_holds (task_id, tenant_id, cpu, memory_mb, storage_mb, vm_count, status, over_limit, created_at, expires_at, settled_at) " +
            "VALUES ($id, $tenant, $cpu, $mem, $storage, $vms, 'committed', $over, $now, $now, $now) " +
            "ON CONFLICT(task_id) DO UPDATE SET status = 'committed', over_limit = $over, settled_at = $now, " +
            "cpu = $cpu, memory_mb = $mem, storage_mb = $storage, vm_count = $vms", transaction))
        {
            upsert.With("$id", taskId.ToString()).With("$tenant", tenantId)
                .With("$cpu", deltas.Cpu).With("$mem", deltas.MemoryMB).With("$storage", deltas.StorageMB).With("$vms", deltas.VmCount)
                .With("$over", overLimit ? 1 : 0).With("$now", now.ToUnixMs());
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return new CommitOutcome(true, overLimit, status != QuotaHoldStatuses.Held);
    }

    public async Task ReleaseAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE quota_holds SET status = 'released', settled_at = $now WHERE task_id = $id AND status = 'held'")
            .With("$id", taskId.ToString()).With("$now", clock.GetUtcNow().ToUnixMs());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> ExpireAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE quota_holds SET status = 'expired', settled_at = $now WHERE status = 'held' AND expires_at <= $now")
            .With("$now", now.ToUnixMs());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<QuotaUsage?> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var (limits, used, held) = await ReadAsync(connection, null, tenantId, clock.GetUtcNow(), cancellationToken);
        if (limits is null)
            return null;
        return new QuotaUsage(
            new QuotaLine(limits.Cpu, used.Cpu, held.Cpu),
            new QuotaLine(limits.MemoryMB, used.MemoryMB, held.MemoryMB),
            new QuotaLine(limits.StorageMB, used.StorageMB, held.StorageMB),
            new QuotaLine(limits.VmCount, used.VmCount, held.VmCount));
    }

    public async Task AdjustAsync(string tenantId, QuotaAmounts delta, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var insert = connection.Command(
            "INSERT INTO quota_holds (task_id, tenant_id, cpu, memory_mb, storage_mb, vm_count, status, created_at, expires_at, settled_at) " +
            "VALUES ($id, $tenant, $cpu, $mem, $storage, $vms, 'committed', $now, $now, $now)")
            .With("$id", "adjust-" + Guid.NewGuid().ToString("N")).With("$tenant", tenantId)
            .With("$cpu", delta.Cpu).With("$mem", delta.MemoryMB).With("$storage", delta.StorageMB).With("$vms", delta.VmCount)
            .With("$now", now.ToUnixMs());
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<(QuotaAmounts? Limits, QuotaAmounts Used, QuotaAmounts Held)> ReadAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, string tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(
            """
            SELECT t.limit_cpu, t.limit_memory_mb, t.limit_storage_mb, t.limit_vm_count,
              COALESCE(SUM(CASE WHEN h.status = 'committed' THEN h.cpu END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'committed' THEN h.memory_mb END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'committed' THEN h.storage_mb END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'committed' THEN h.vm_count END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'held' AND h.expires_at > $now THEN h.cpu END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'held' AND h.expires_at > $now THEN h.memory_mb END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'held' AND h.expires_at > $now THEN h.storage_mb END), 0),
              COALESCE(SUM(CASE WHEN h.status = 'held' AND h.expires_at > $now THEN h.vm_count END), 0)
            FROM tenants t LEFT JOIN quota_holds h ON h.tenant_id = t.id AND h.status IN ('committed', 'held')
            WHERE t.id = $tenant
            GROUP BY t.id
            """, transaction).With("$tenant", tenantId).With("$now", now.ToUnixMs());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return (null, QuotaAmounts.Zero, QuotaAmounts.Zero);
        return (new QuotaAmounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)),
            new QuotaAmounts(reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7)),
            new QuotaAmounts(reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10), reader.GetInt64(11)));
    }
}
