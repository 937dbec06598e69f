namespace OpenHvx.Orchestrator.Retention;

/// <summary>
/// How long history is kept (section <c>Orchestrator:Retention</c>); see <see cref="RetentionSweeper"/>. An age of zero or less
/// keeps that kind of history forever.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>A SUCCESS, FAILED or CANCELED task moves to the archive this long after its last change (admins still read it by id).</summary>
    public TimeSpan FinishedTasks { get; set; } = TimeSpan.FromDays(90);

    /// <summary>An <c>Idempotency-Key</c> replays its first answer this long; after it, the same key starts a new task.</summary>
    public TimeSpan IdempotencyKeys { get; set; } = TimeSpan.FromHours(24);

    /// <summary>A quota ledger row of an ended task is deleted this long after it was settled (the counters already hold it).</summary>
    public TimeSpan SettledHolds { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often the sweep runs; zero or less turns retention off.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Rows moved or deleted per transaction: each batch holds the store's write lock only briefly.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>What was last changed at or before this is past <paramref name="age"/>; null when that history is kept forever.</summary>
    public static DateTimeOffset? Cutoff(DateTimeOffset now, TimeSpan age) => age > TimeSpan.Zero ? now - age : null;
}
