using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>
/// The agent's own instruments (meter <see cref="AgentDiagnostics.Name"/>), all created here: the tasks whose script runs now
/// (<c>openhvx_agent_tasks_running</c>) and how long a task's run took, from its start in the journal to its stored outcome, retries
/// of a transient failure included (<c>openhvx_agent_script_duration_seconds</c>, by action and outcome <c>ok</c>/<c>failed</c>).
/// A task counts here only when this process started it (<see cref="Tasks.TaskJournal.TryStart"/>).
/// </summary>
public sealed class AgentMetrics
{
    public const string Ok = "ok";
    public const string Failed = "failed";

    /// <summary>Seconds: a power change takes a second, a VM's creation minutes.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    private readonly UpDownCounter<long> _running;
    private readonly Histogram<double> _duration;
    private readonly ConcurrentDictionary<Guid, (string Action, long StartedAt)> _started = new();

    public AgentMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(AgentDiagnostics.Name);
        _running = meter.CreateUpDownCounter<long>("openhvx.agent.tasks.running", "{task}", "Tasks whose script runs on this agent now.");
        _duration = meter.CreateHistogram("openhvx.agent.script.duration", "s", "How long a task's run took on this agent, retries included, by action and outcome.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    public void Started(Guid taskId, string action)
    {
        if (_started.TryAdd(taskId, (action, Stopwatch.GetTimestamp())))
            _running.Add(1, new KeyValuePair<string, object?>("action", action));
    }

    /// <summary>The task's outcome was stored; nothing when this process did not start it (not run, or run before a restart).</summary>
    public void Finished(Guid taskId, bool ok)
    {
        if (!_started.TryRemove(taskId, out var run))
            return;
        _running.Add(-1, new KeyValuePair<string, object?>("action", run.Action));
        _duration.Record(Stopwatch.GetElapsedTime(run.StartedAt).TotalSeconds,
            new KeyValuePair<string, object?>("action", run.Action), new KeyValuePair<string, object?>("outcome", ok ? Ok : Failed));
    }
}
