namespace OpenHvx.Orchestrator.Quotas;

/// <summary>Quota amounts of a task (deltas) or of a tenant (limits, usage). -1 as a limit means unlimited.</summary>
public sealed record QuotaAmounts(long Cpu, long MemoryMB, long StorageMB, long VmCount)
{
    public static readonly QuotaAmounts Zero = new(0, 0, 0, 0);
}
