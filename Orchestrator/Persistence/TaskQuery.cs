namespace OpenHvx.Orchestrator.Persistence;

public sealed record TaskQuery
{
    public string? TenantId { get; init; }
    public string? Status { get; init; }
    public string? State { get; init; }
    public string? Action { get; init; }
    public string? AgentId { get; init; }
    public DateTimeOffset? CreatedBefore { get; init; }
    /// <summary>Only tasks in a non-final state (every non-final state has a deadline).</summary>
    public bool InFlight { get; init; }
    public int Limit { get; init; } = 50;
    public int Offset { get; init; }
}
