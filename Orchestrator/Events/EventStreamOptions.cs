namespace OpenHvx.Orchestrator.Events;

/// <summary>Server-sent event streams of task events (section <c>Orchestrator:EventStreams</c>).</summary>
public sealed class EventStreamOptions
{
    /// <summary>Streams one tenant (or one admin) may hold open at once; one more gets 429 with Retry-After.</summary>
    public int MaxStreamsPerTenant { get; set; } = 20;

    /// <summary>
    /// A comment line is sent after this much silence, so that proxies (the gateway's activity timeout is 100 s by default,
    /// nginx's read timeout 60 s) do not cut an idle stream.
    /// </summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often an idle stream reads the log without being woken: a commit in this process, or one by another orchestrator on the
    /// same store announced on the broker, wakes it at once; while the broker is away, the latter is seen within this delay.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Events read from the log at a time.</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>What a refused stream (too many open) is told to wait before it tries again.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}
