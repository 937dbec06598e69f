namespace OpenHvx.Orchestrator.Retention;

/// <summary>What one retention sweep removed.</summary>
public sealed record RetentionCounts(int TasksArchived, int IdempotencyKeys, int SettledHolds)
{
    public int Total => TasksArchived + IdempotencyKeys + SettledHolds;
}
