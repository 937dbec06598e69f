using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteTenantStore(SqliteDatabase database, TimeProvider clock) : ITenantStore
{
    private const string Select = "SELECT id, name, status, limit_cpu, limit_memory_mb, limit_storage_mb, limit_vm_count, created_at FROM tenants";

    public async Task<Tenant?> GetAsync(string tenantId, CancellationToken cancellationToken = default)
        => (await QueryAsync(Select + " WHERE id = $id", tenantId, cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default)
        => QueryAsync(Select + " ORDER BY id", null, cancellationToken);

    public async Task<bool> DeleteAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        string[] owned =
        [
            "DELETE FROM placements WHERE task_id IN (SELECT id FROM tasks WHERE tenant_id = $id)",
            "DELETE FROM vm_locks WHERE task_id IN (SELECT id FROM tasks WHERE tenant_id = $id)",
            "DELETE FROM agent_outbox WHERE task_id IN (SELECT id FROM tasks WHERE tenant_id = $id)",
            "DELETE FROM tasks WHERE tenant_id = $id",
            "DELETE FROM tasks_archive WHERE tenant_id = $id",
            "DELETE FROM quota_holds WHERE tenant_id = $id",
            "DELETE FROM quota_usage WHERE tenant_id = $id",
            "DELETE FROM idempotency_keys WHERE tenant_id = $id",
            "DELETE FROM vm_names WHERE tenant_id = $id",
            "DELETE FROM tenant_resources WHERE tenant_id = $id",
            "DELETE FROM webhooks WHERE tenant_id = $id",
        ];
        foreach (var sql in owned)
        {
            await using var delete = lease.Command(sql).With("$id", tenantId);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var command = lease.Command("DELETE FROM tenants WHERE id = $id").With("$id", tenantId);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return deleted;
    }

    private async Task<IReadOnlyList<Tenant>> QueryAsync(string sql, string? id, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(sql).With("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tenants = new List<Tenant>();
        while (await reader.ReadAsync(cancellationToken))
        {
            tenants.Add(new Tenant(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                new QuotaAmounts(reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)), SqliteExtensions.FromUnixMs(reader.GetInt64(7))));
        }
        return tenants;
    }

    public Task UpsertAsync(Tenant tenant, CancellationToken cancellationToken = default)
        => WriteAsync(tenant, "ON CONFLICT(id) DO UPDATE SET name = excluded.name, status = excluded.status, limit_cpu = excluded.limit_cpu, limit_memory_mb = excluded.limit_memory_mb, limit_storage_mb = excluded.limit_storage_mb, limit_vm_count = excluded.limit_vm_count", cancellationToken);

    public async Task<bool> TryCreateAsync(Tenant tenant, CancellationToken cancellationToken = default)
        => await WriteAsync(tenant, "ON CONFLICT(id) DO NOTHING", cancellationToken) == 1;

    private async Task<int> WriteAsync(Tenant tenant, string onConflict, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO tenants (id, name, status, limit_cpu, limit_memory_mb, limit_storage_mb, limit_vm_count, created_at) " +
            "VALUES ($id, $name, $status, $cpu, $mem, $storage, $vms, $now) " + onConflict)
            .With("$id", tenant.TenantId).With("$name", tenant.Name).With("$status", tenant.Status)
            .With("$cpu", tenant.Limits.Cpu).With("$mem", tenant.Limits.MemoryMB)
            .With("$storage", tenant.Limits.StorageMB).With("$vms", tenant.Limits.VmCount)
            .With("$now", clock.GetUtcNow().ToUnixMs());
        var written = await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
        return written;
    }
}
