using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>
/// A tenant's link to something an agent built: for a VM, its Hyper-V GUID, host agent, tenant-side name and the catalog image
/// its disk was made from; and what reconciliation found of it on its host.
/// </summary>
/// <param name="State"><see cref="ResourceStates.Present"/>, or <see cref="ResourceStates.Gone"/> once an inventory no longer shows it (its charge released)</param>
/// <param name="GoneAt">when it was marked gone</param>
/// <param name="AgentChangedAt">when the agent finished the task that linked or last changed it (the agent's clock): an inventory collected
/// before then may not show that change yet</param>
/// <param name="Recharged">reconciliation charged it its real size (changed out of band)</param>
public sealed record TenantResource(string ResourceId, string TenantId, string Kind, string AgentId, string Name, Guid TaskId, bool Late, DateTimeOffset CreatedAt,
    QuotaAmounts? Charge = null, string? ImageId = null, string State = ResourceStates.Present, DateTimeOffset? GoneAt = null,
    DateTimeOffset? AgentChangedAt = null, ResourceRecharge? Recharged = null);

public static class ResourceStates
{
    public const string Present = "present";
    public const string Gone = "gone";
}

/// <summary>Reconciliation changed a resource's charge to what its host shows: what it was charged before, when, and whether that went over a limit.</summary>
public sealed record ResourceRecharge(QuotaAmounts Before, DateTimeOffset At, bool OverLimit);

/// <summary>A VM on a host that no resource links, as the agent's last reconciled inventory showed it.</summary>
public sealed record UnmanagedVm(string VmId, string Name, long? Cpu, long? MemoryMB, DateTimeOffset FirstSeenAt);

/// <summary>The last reconciled inventory of an agent: when the agent collected it (its clock), when it was reconciled, and its unmanaged VMs.</summary>
public sealed record AgentReconciliation(string AgentId, DateTimeOffset CollectedAt, DateTimeOffset ReconciledAt, IReadOnlyList<UnmanagedVm> Unmanaged);

public interface IResourceStore
{
    /// <summary>Links a resource (idempotent on its id).</summary>
    Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default);
    /// <summary>Every resource (of every tenant) hosted by this agent.</summary>
    Task<IReadOnlyList<TenantResource>> ListOnAgentAsync(string agentId, CancellationToken cancellationToken = default);

    /// <summary>How many linked VMs (of any tenant) were built from this catalog image.</summary>
    Task<int> CountBuiltFromAsync(string imageId, CancellationToken cancellationToken = default);

    /// <summary>Reserves a VM name for a task; false when the tenant already has a VM or a create in flight with that name.</summary>
    Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);
    /// <summary>Frees a name reserved by this task (a failed create).</summary>
    Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default);

    Task<TenantResource?> GetAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default);
    /// <summary>Removes the link and frees the VM's name (a deleted VM).</summary>
    Task UnlinkAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default);
    /// <summary>Stores a changed name, charge, state (gone or present), agent change time or recharge; a renamed VM frees its previous name.</summary>
    Task UpdateAsync(TenantResource resource, string previousName, CancellationToken cancellationToken = default);

    /// <summary>Takes the VM for one task (single flight); true when this task holds it.</summary>
    Task<bool> TryLockAsync(string resourceId, Guid taskId, CancellationToken cancellationToken = default);
    Task UnlockAsync(Guid taskId, CancellationToken cancellationToken = default);

    /// <summary>The agent's last reconciled inventory; null before the first.</summary>
    Task<AgentReconciliation?> GetReconciliationAsync(string agentId, CancellationToken cancellationToken = default);
    /// <summary>Replaces the agent's last reconciled inventory.</summary>
    Task SaveReconciliationAsync(AgentReconciliation reconciliation, CancellationToken cancellationToken = default);
}

public static class ResourceStoreExtensions
{
    /// <summary>The tenant's VM a task targets (<c>target.refId</c>, a GUID); null when it is not this tenant's.</summary>
    public static Task<TenantResource?> FindTargetAsync(this IResourceStore resources, string tenantId, TaskTarget? target, CancellationToken cancellationToken)
        => target?.RefId is { } refId && Guid.TryParse(refId, out var id)
            ? resources.GetAsync(tenantId, id.ToString(), cancellationToken)
            : Task.FromResult<TenantResource?>(null);
}
