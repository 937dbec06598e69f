namespace OpenHvx.Orchestrator.Events;

/// <summary>Events after <see cref="After"/> (a sequence number), oldest first, optionally of one tenant or one task.</summary>
public sealed record TaskEventQuery(long After, int Limit, string? TenantId = null, Guid? TaskId = null);
