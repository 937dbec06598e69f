using System.Text.Json;

namespace OpenHvx.Contracts;

public sealed record TaskTarget(string Kind, string? RefId, string? AgentId);

/// <summary>Quota amounts of a task (deltas) or of a tenant (limits, usage). -1 as a limit means unlimited.</summary>
public sealed record QuotaAmounts(long Cpu, long MemoryMB, long StorageMB, long VmCount)
{
    public static readonly QuotaAmounts Zero = new(0, 0, 0, 0);
}

/// <summary>Published on every transition of a task, for event subscribers.</summary>
public sealed record TaskStateChanged(
    Guid TaskId,
    string TenantId,
    string Action,
    string? From,
    string To,
    string Status,
    DateTimeOffset Timestamp,
    string? ErrorCode);
