namespace OpenHvx.Contracts;

/// <summary>What reconciliation may report of a resource: <c>resource.events</c>, routing key <c>&lt;tenantId&gt;.vm.&lt;change&gt;</c>.</summary>
public static class ResourceChanges
{
    /// <summary>The VM is no longer on its host (deleted out of band): marked gone, its charge released.</summary>
    public const string Gone = "gone";
    /// <summary>The VM's CPU or memory differ from its charge (changed out of band): charged its real size.</summary>
    public const string Resized = "resized";
    /// <summary>A VM marked gone is on its host again: present, charged again.</summary>
    public const string Returned = "returned";
    /// <summary>A VM on a host that no tenant's resource links (tenant <see cref="UnmanagedTenant"/>): listed, never charged.</summary>
    public const string Unmanaged = "unmanaged";

    public const string UnmanagedTenant = "_unmanaged";
}

/// <summary>A VM's size as charged: vCPUs, memory and storage in MB.</summary>
public sealed record ResourceSize(long Cpu, long MemoryMB, long StorageMB);

/// <summary>
/// One change that reconciliation made (plain JSON on <c>resource.events</c>, published after its commit). <paramref name="Before"/>
/// and <paramref name="After"/> are the charge before and after (null where nothing is charged: a gone VM's after, an unmanaged VM's).
/// </summary>
/// <param name="OverLimit">the new charge leaves the tenant over a limit (it is booked anyway: the VM exists)</param>
/// <param name="CollectedAt">when the agent collected the inventory that showed the change (the agent's clock)</param>
public sealed record ResourceChanged(
    string TenantId,
    string Kind,
    string ResourceId,
    string Change,
    string AgentId,
    string Name,
    ResourceSize? Before,
    ResourceSize? After,
    bool OverLimit,
    DateTimeOffset CollectedAt,
    DateTimeOffset Timestamp);
