using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>
/// A tenant's link to something an agent built: for a VM, its Hyper-V GUID, host agent, tenant-side name and the catalog image
/// its disk was made from.
/// </summary>
public sealed record TenantResource(string ResourceId, string TenantId, string Kind, string AgentId, string Name, Guid TaskId, bool Late, DateTimeOffset CreatedAt,
    QuotaAmounts? Charge = null, string? ImageId = null);

public interface IResourceStore
{
    /// <summary>Links a resource (idempotent on its id).</summary>
    Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>How many linked VMs (of any tenant) were built from this catalog image.</summary>
    Task<int> CountBuiltFromAsync(string imageId, CancellationToken cancellationToken = default);

    /// <summary>Reserves a VM name for a task; false when the tenant already has a VM or a create in flight with that name.</summary>
    Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);
    /// <summary>Frees a name reserved by this task (a failed create).</summary>
    Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);

    Task<TenantResource?> GetAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default);
    /// <summary>Removes the link and frees the VM's name (a deleted VM).</summary>
    Task UnlinkAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default);
    /// <summary>Stores a changed name or charge; a renamed VM frees its previous name.</summary>
    Task UpdateAsync(TenantResource resource, string previousName, CancellationToken cancellationToken = default);

    /// <summary>Takes the VM for one task (single flight); true when this task holds it.</summary>
    Task<bool> TryLockAsync(string resourceId, Guid taskId, CancellationToken cancellationToken = default);
    Task UnlockAsync(Guid taskId, CancellationToken cancellationToken = default);
}

public static class ResourceStoreExtensions
{
    /// <summary>The tenant's VM a task targets (<c>target.refId</c>, a GUID); null when it is not this tenant's.</summary>
    public static Task<TenantResource?> FindTargetAsync(this IResourceStore resources, string tenantId, TaskTarget? target, CancellationToken cancellationToken)
        => target?.RefId is { } refId && Guid.TryParse(refId, out var id)
            ? resources.GetAsync(tenantId, id.ToString(), cancellationToken)
            : Task.FromResult<TenantResource?>(null);
}
