using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>A tenant's link to something an agent built: for a VM, its Hyper-V GUID, host agent and tenant-side name.</summary>
public sealed record TenantResource(string ResourceId, string TenantId, string Kind, string AgentId, string Name, Guid TaskId, bool Late, DateTimeOffset CreatedAt,
    QuotaAmounts? Charge = null);

public interface IResourceStore
{
    /// <summary>Links a resource (idempotent on its id).</summary>
    Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Reserves a VM name for a task; false when the tenant already has a VM or a create in flight with that name.</summary>
    Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);
    /// <summary>Frees a name reserved by this task (a failed create).</summary>
    Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);
}

public sealed class SqliteResourceStore(SqliteDatabase database) : IResourceStore
{
    public async Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var insert = connection.Command(
            "INSERT INTO tenant_resources (id, tenant_id, kind, agent_id, name, task_id, late, spec, created_at) " +
            "VALUES ($id, $tenant, $kind, $agent, $name, $task, $late, $spec, $now) ON CONFLICT(id) DO NOTHING", transaction))
        {
            insert.With("$id", resource.ResourceId).With("$tenant", resource.TenantId).With("$kind", resource.Kind)
                .With("$agent", resource.AgentId).With("$name", resource.Name).With("$task", resource.TaskId.ToString())
                .With("$late", resource.Late ? 1 : 0).With("$now", resource.CreatedAt.ToUnixMs())
                .With("$spec", resource.Charge is null ? null : JsonSerializer.Serialize(resource.Charge, JsonSerializerOptions.Web));
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        // A late success may find its name freed (and even taken again): keep whichever holder is there.
        await using (var name = connection.Command(
            "INSERT INTO vm_names (tenant_id, name, task_id) VALUES ($tenant, $name, $task) ON CONFLICT DO NOTHING", transaction))
        {
            name.With("$tenant", resource.TenantId).With("$name", resource.Name).With("$task", resource.TaskId.ToString());
            await name.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT id, tenant_id, kind, agent_id, name, task_id, late, created_at, spec FROM tenant_resources WHERE tenant_id = $tenant ORDER BY created_at")
            .With("$tenant", tenantId);
        var result = new List<TenantResource>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TenantResource(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                Guid.Parse(reader.GetString(5)), reader.GetInt32(6) == 1, SqliteExtensions.FromUnixMs(reader.GetInt64(7)),
                reader.IsDBNull(8) ? null : JsonSerializer.Deserialize<QuotaAmounts>(reader.GetString(8), JsonSerializerOptions.Web)));
        }
        return result;
    }

    public async Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "INSERT INTO vm_names (tenant_id, name, task_id) VALUES ($tenant, $name, $task) " +
            "ON CONFLICT(tenant_id, name) DO UPDATE SET task_id = task_id WHERE task_id = $task")
            .With("$tenant", tenantId).With("$name", name).With("$task", taskId.ToString());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("DELETE FROM vm_names WHERE tenant_id = $tenant AND name = $name AND task_id = $task")
            .With("$tenant", tenantId).With("$name", name).With("$task", taskId.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
