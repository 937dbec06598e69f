using System.Diagnostics.Metrics;

namespace OpenHvx.Orchestrator.Telemetry;

/// <summary>
/// The orchestrator's own instruments (meter <see cref="OrchestratorDiagnostics.Name"/>), all created here: tasks submitted and finished,
/// time spent per saga state (recorded by <see cref="TaskTransitionMetrics"/>), and gauges of the fleet and the stores that report the
/// last <see cref="OrchestratorSample"/>, never the store itself. In Prometheus: <c>openhvx_tasks_submitted_total</c>,
/// <c>openhvx_tasks_finished_total</c>, <c>openhvx_task_state_duration_seconds</c>, <c>openhvx_quota_holds_active</c>,
/// <c>openhvx_dead_letters</c>, <c>openhvx_agent_outbox_backlog</c>, <c>openhvx_webhooks_backlog</c>, <c>openhvx_agents_online</c>,
/// <c>openhvx_agent_free_cpu</c>, <c>openhvx_agent_free_memory_bytes</c>, <c>openhvx_agent_free_storage_bytes</c>,
/// <c>openhvx_agent_heartbeat_age_seconds</c>, <c>openhvx_retention_removed_total</c>. Tags: <c>action</c> (a catalog action, else <c>unknown</c>), <c>status</c>, <c>state</c>, <c>agent</c>.
/// </summary>
public sealed class OrchestratorMetrics
{
    /// <summary>Seconds: a pipeline step takes milliseconds, a VM's creation minutes.</summary>
    public static readonly IReadOnlyList<double> StateDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    private const long BytesPerMB = 1024 * 1024;

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _finished;
    private readonly Histogram<double> _stateDuration;
    private readonly Counter<long> _retained;
    private readonly TimeProvider _clock;
    private volatile OrchestratorSample? _sample;

    public OrchestratorMetrics(IMeterFactory meters, TimeProvider clock)
    {
        _clock = clock;
        var meter = meters.Create(OrchestratorDiagnostics.Name);
        _submitted = meter.CreateCounter<long>("openhvx.tasks.submitted", "{task}", "Tasks the saga began, by action.");
        _finished = meter.CreateCounter<long>("openhvx.tasks.finished", "{task}",
            "Tasks that reached a final status (SUCCESS, FAILED, CANCELED), by action and status; each task once, at its first final status.");
        _stateDuration = meter.CreateHistogram("openhvx.task.state.duration", "s", "Time a task spent in a saga state, recorded when it left the state.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StateDurationBuckets });
        _retained = meter.CreateCounter<long>("openhvx.retention.removed", "{row}",
            "Rows retention moved out of the live store, by kind (tasks archived, idempotency_keys and quota_holds deleted).");

        meter.CreateObservableGauge("openhvx.quota.holds.active", () => Whole(s => s.QuotaHoldsActive), "{hold}", "Quota holds still held (sampled).");
        meter.CreateObservableGauge("openhvx.dead_letters", () => Whole(s => s.DeadLetters), "{message}", "Messages in the dead-letter store, replayed or not (sampled).");
        meter.CreateObservableGauge("openhvx.agent_outbox.backlog", () => Whole(s => s.OutboxBacklog), "{task}",
            "Agent tasks in the outbox: stored for their agent, not yet started by it (sampled).");
        meter.CreateObservableGauge("openhvx.webhooks.backlog", () => Whole(s => s.WebhookBacklog), "{event}",
            "Task events active webhooks have not passed yet: deliveries still to make, counting those a webhook's filter will skip (sampled).");
        meter.CreateObservableGauge("openhvx.agents.online", () => Whole(s => s.Agents.Count(a => a.Online)), "{agent}", "Agents online (sampled).");
        meter.CreateObservableGauge("openhvx.agent.free.cpu", () => PerAgent(free => free.Cpu), "{cpu}",
            "vCPUs an agent can still take: its last heartbeat's free, less what tasks placed on it take (sampled).");
        meter.CreateObservableGauge("openhvx.agent.free.memory", () => PerAgent(free => free.MemoryMB * BytesPerMB), "By",
            "Memory an agent can still take, as the election counts it (sampled).");
        meter.CreateObservableGauge("openhvx.agent.free.storage", () => PerAgent(free => free.StorageMB * BytesPerMB), "By",
            "Storage an agent can still take, as the election counts it (sampled).");
        meter.CreateObservableGauge("openhvx.agent.heartbeat.age", HeartbeatAges, "s", "Seconds since an agent's last heartbeat (its time sampled, its age now).");
    }

    /// <summary>The last sample, null before the first.</summary>
    public OrchestratorSample? Sample => _sample;

    public void Update(OrchestratorSample sample) => _sample = sample;

    public void TaskSubmitted(string action) => _submitted.Add(1, new KeyValuePair<string, object?>("action", action));

    public void TaskFinished(string action, string status)
        => _finished.Add(1, new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("status", status));

    /// <summary>Rows of <paramref name="kind"/> that retention archived or deleted.</summary>
    public void Removed(string kind, long count) => _retained.Add(count, new KeyValuePair<string, object?>("kind", kind));

    public void StateLeft(string state, string action, TimeSpan spent)
        => _stateDuration.Record(Math.Max(0, spent.TotalSeconds), new KeyValuePair<string, object?>("state", state), new KeyValuePair<string, object?>("action", action));

    private IEnumerable<Measurement<long>> Whole(Func<OrchestratorSample, long> value)
        => _sample is { } sample ? [new Measurement<long>(value(sample))] : [];

    private IEnumerable<Measurement<long>> PerAgent(Func<Contracts.AgentCapacity, long> value)
        => (_sample?.Agents ?? []).Where(a => a.Free is not null)
            .Select(a => new Measurement<long>(value(a.Free!), new KeyValuePair<string, object?>("agent", a.AgentId)));

    private IEnumerable<Measurement<double>> HeartbeatAges()
    {
        var now = _clock.GetUtcNow();
        return (_sample?.Agents ?? []).Select(a => new Measurement<double>(Math.Max(0, (now - a.LastHeartbeatAt).TotalSeconds),
            new KeyValuePair<string, object?>("agent", a.AgentId)));
    }
}
