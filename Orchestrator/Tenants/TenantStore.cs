using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Tenants;

/// <param name="CreatedAt">when this tenant was created: a token issued before it belongs to an earlier tenant of the same id</param>
public sealed record Tenant(string TenantId, string Name, string Status, QuotaAmounts Limits, DateTimeOffset CreatedAt = default)
{
    public const string Active = "active";
    public const string Disabled = "disabled";
}

public interface ITenantStore
{
    Task<Tenant?> GetAsync(string tenantId, CancellationToken cancellationToken = default);
    Task UpsertAsync(Tenant tenant, CancellationToken cancellationToken = default);
    /// <summary>Creates the tenant unless it exists; an existing tenant is left as it is.</summary>
    Task<bool> TryCreateAsync(Tenant tenant, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the tenant with everything it owns (tasks, quota holds and usage, idempotency keys, VM names and locks,
    /// placements), so that a tenant created again under the same id starts empty.
    /// </summary>
    Task<bool> DeleteAsync(string tenantId, CancellationToken cancellationToken = default);
}

public sealed class SqliteTenantStore(SqliteDatabase database, TimeProvider clock) : ITenantStore
{
    private const string Select = "SELECT id, name, status, limit_cpu, limit_memory_mb, limit_storage_mb, limit_vm_count, created_at FROM tenants";

    public async Task<Tenant?> GetAsync(string tenantId, CancellationToken cancellationToken = default)
        => (await QueryAsync(Select + " WHERE id = $id", tenantId, cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default)
        => QueryAsync(Select + " ORDER BY id", null, cancellationToken);

    public async Task<bool> DeleteAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        string[] owned =
        [
            "DELETE FROM placements WHERE task_id IN (SELECT id FROM tasks WHERE tenant_id = $id)",
            "DELETE FROM vm_locks WHERE task_id IN (SELECT id FROM tasks WHERE tenant_id = $id)",
            "DELETE FROM tasks WHERE tenant_id = $id",
            "DELETE FROM quota_holds WHERE tenant_id = $id",
            "DELETE FROM idempotency_keys WHERE tenant_id = $id",
            "DELETE FROM vm_names WHERE tenant_id = $id",
            "DELETE FROM tenant_resources WHERE tenant_id = $id",
        ];
        foreach (var sql in owned)
        {
            await using var delete = connection.Command(sql, transaction).With("$id", tenantId);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var command = connection.Command("DELETE FROM tenants WHERE id = $id", transaction).With("$id", tenantId);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    private async Task<IReadOnlyList<Tenant>> QueryAsync(string sql, string? id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(sql).With("$id", id);
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
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "INSERT INTO tenants (id, name, status, limit_cpu, limit_memory_mb, limit_storage_mb, limit_vm_count, created_at) " +
            "VALUES ($id, $name, $status, $cpu, $mem, $storage, $vms, $now) " + onConflict)
            .With("$id", tenant.TenantId).With("$name", tenant.Name).With("$status", tenant.Status)
            .With("$cpu", tenant.Limits.Cpu).With("$mem", tenant.Limits.MemoryMB)
            .With("$storage", tenant.Limits.StorageMB).With("$vms", tenant.Limits.VmCount)
            .With("$now", clock.GetUtcNow().ToUnixMs());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
