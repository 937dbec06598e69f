namespace OpenHvx.Contracts;

public sealed record TaskTarget(string Kind, string? RefId, string? AgentId);

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
