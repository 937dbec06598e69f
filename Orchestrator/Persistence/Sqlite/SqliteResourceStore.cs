using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Resources;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteResourceStore(SqliteDatabase database) : IResourceStore
{
    public async Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using (var insert = lease.Command(
            "INSERT INTO tenant_resources (id, tenant_id, kind, agent_id, name, task_id, late, spec, created_at, image_id, state, gone_at, agent_changed_at, recharged) " +
            "VALUES ($id, $tenant, $kind, $agent, $name, $task, $late, $spec, $now, $image, $state, $gone, $changed, $recharged) ON CONFLICT(id) DO NOTHING"))
        {
            insert.With("$id", resource.ResourceId).With("$tenant", resource.TenantId).With("$kind", resource.Kind)
                .With("$agent", resource.AgentId).With("$name", resource.Name).With("$task", resource.TaskId.ToString())
                .With("$late", resource.Late ? 1 : 0).With("$now", resource.CreatedAt.ToUnixMs()).With("$image", resource.ImageId);
            await WithConditionAndCharge(insert, resource).ExecuteNonQueryAsync(cancellationToken);
        }
        // A late success may find its name freed (and even taken again): keep whichever holder is there.
        await using (var name = lease.Command(
            "INSERT INTO vm_names (tenant_id, name, task_id) VALUES ($tenant, $name, $task) ON CONFLICT DO NOTHING"))
        {
            name.With("$tenant", resource.TenantId).With("$name", resource.Name).With("$task", resource.TaskId.ToString());
            await name.ExecuteNonQueryAsync(cancellationToken);
        }
        await lease.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
        => QueryAsync("WHERE tenant_id = $tenant ORDER BY created_at", tenantId, null, cancellationToken);

    public Task<IReadOnlyList<TenantResource>> ListOnAgentAsync(string agentId, CancellationToken cancellationToken = default)
        => QueryAsync("WHERE agent_id = $agent ORDER BY created_at", null, null, cancellationToken, agentId);

    public async Task<TenantResource?> GetAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default)
        => (await QueryAsync("WHERE tenant_id = $tenant AND id = $id", tenantId, resourceId, cancellationToken)).FirstOrDefault();

    public async Task<int> CountBuiltFromAsync(string imageId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT COUNT(*) FROM tenant_resources WHERE image_id = $image").With("$image", imageId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }

    public async Task UnlinkAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using (var names = lease.Command(
            "DELETE FROM vm_names WHERE tenant_id = $tenant AND name = (SELECT name FROM tenant_resources WHERE tenant_id = $tenant AND id = $id)"))
            await names.With("$tenant", tenantId).With("$id", resourceId).ExecuteNonQueryAsync(cancellationToken);
        await using (var delete = lease.Command("DELETE FROM tenant_resources WHERE tenant_id = $tenant AND id = $id"))
            await delete.With("$tenant", tenantId).With("$id", resourceId).ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task UpdateAsync(TenantResource resource, string previousName, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using (var update = lease.Command(
            "UPDATE tenant_resources SET name = $name, spec = $spec, state = $state, gone_at = $gone, agent_changed_at = $changed, recharged = $recharged " +
            "WHERE tenant_id = $tenant AND id = $id"))
        {
            update.With("$tenant", resource.TenantId).With("$id", resource.ResourceId).With("$name", resource.Name);
            await WithConditionAndCharge(update, resource).ExecuteNonQueryAsync(cancellationToken);
        }
        if (!string.Equals(previousName, resource.Name, StringComparison.OrdinalIgnoreCase))
        {
            await using var free = lease.Command("DELETE FROM vm_names WHERE tenant_id = $tenant AND name = $name");
            await free.With("$tenant", resource.TenantId).With("$name", previousName).ExecuteNonQueryAsync(cancellationToken);
        }
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<bool> TryLockAsync(string resourceId, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO vm_locks (resource_id, task_id, created_at) VALUES ($id, $task, $now) " +
            "ON CONFLICT(resource_id) DO UPDATE SET task_id = task_id WHERE task_id = $task")
            .With("$id", resourceId).With("$task", taskId.ToString()).With("$now", DateTimeOffset.UtcNow.ToUnixMs());
        var outcome = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task UnlockAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM vm_locks WHERE task_id = $task").With("$task", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    private static SqliteCommand WithConditionAndCharge(SqliteCommand command, TenantResource resource)
        => command.With("$spec", resource.Charge is null ? null : JsonSerializer.Serialize(resource.Charge, JsonSerializerOptions.Web))
            .With("$state", resource.State).With("$gone", resource.GoneAt?.ToUnixMs()).With("$changed", resource.AgentChangedAt?.ToUnixMs())
            .With("$recharged", resource.Recharged is null ? null : JsonSerializer.Serialize(resource.Recharged, JsonSerializerOptions.Web));

    private async Task<IReadOnlyList<TenantResource>> QueryAsync(string where, string? tenantId, string? id, CancellationToken cancellationToken, string? agentId = null)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command(
            "SELECT id, tenant_id, kind, agent_id, name, task_id, late, created_at, spec, image_id, state, gone_at, agent_changed_at, recharged FROM tenant_resources " + where)
            .With("$tenant", tenantId).With("$id", id).With("$agent", agentId);
        var result = new List<TenantResource>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TenantResource(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                Guid.Parse(reader.GetString(5)), reader.GetInt32(6) == 1, SqliteExtensions.FromUnixMs(reader.GetInt64(7)),
                reader.IsDBNull(8) ? null : JsonSerializer.Deserialize<QuotaAmounts>(reader.GetString(8), JsonSerializerOptions.Web),
                reader.IsDBNull(9) ? null : reader.GetString(9), reader.GetString(10),
                reader.IsDBNull(11) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(11)),
                reader.IsDBNull(12) ? null : SqliteExtensions.FromUnixMs(reader.GetInt64(12)),
                reader.IsDBNull(13) ? null : JsonSerializer.Deserialize<ResourceRecharge>(reader.GetString(13), JsonSerializerOptions.Web)));
        }
        return result;
    }

    public async Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO vm_names (tenant_id, name, task_id) VALUES ($tenant, $name, $task) " +
            "ON CONFLICT(tenant_id, name) DO UPDATE SET task_id = task_id WHERE task_id = $task")
            .With("$tenant", tenantId).With("$name", name).With("$task", taskId.ToString());
        var outcome = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return outcome;
    }

    public async Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM vm_names WHERE tenant_id = $tenant AND name = $name AND task_id = $task")
            .With("$tenant", tenantId).With("$name", name).With("$task", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<AgentReconciliation?> GetReconciliationAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT collected_at, reconciled_at, unmanaged FROM agent_reconciliations WHERE agent_id = $agent")
            .With("$agent", agentId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new AgentReconciliation(agentId, SqliteExtensions.FromUnixMs(reader.GetInt64(0)), SqliteExtensions.FromUnixMs(reader.GetInt64(1)),
            JsonSerializer.Deserialize<List<UnmanagedVm>>(reader.GetString(2), JsonSerializerOptions.Web) ?? []);
    }

    public async Task SaveReconciliationAsync(AgentReconciliation reconciliation, CancellationToken cancellationToken = default)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            "INSERT INTO agent_reconciliations (agent_id, collected_at, reconciled_at, unmanaged) VALUES ($agent, $collected, $reconciled, $unmanaged) " +
            "ON CONFLICT(agent_id) DO UPDATE SET collected_at = excluded.collected_at, reconciled_at = excluded.reconciled_at, unmanaged = excluded.unmanaged")
            .With("$agent", reconciliation.AgentId).With("$collected", reconciliation.CollectedAt.ToUnixMs())
            .With("$reconciled", reconciliation.ReconciledAt.ToUnixMs())
            .With("$unmanaged", JsonSerializer.Serialize(reconciliation.Unmanaged, JsonSerializerOptions.Web));
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }
}
