using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator;

/// <summary>Settings of the orchestrator (section <c>Orchestrator</c>, environment <c>OPENHVX_...</c>).</summary>
public sealed class OrchestratorOptions
{
    public const string Section = "Orchestrator";

    /// <summary>The SQLite file (OPENHVX_DB).</summary>
    public string Database { get; set; } = ".openhvx/openhvx.db";

    /// <summary>How long POST /tasks waits for the saga to dispatch or reject before answering 202 with the current status.</summary>
    public TimeSpan SubmitWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>When the task API tells a client to come back (<c>Retry-After</c>).</summary>
    public RetryAfterOptions RetryAfter { get; set; } = new();
    /// <summary>How long POST /tasks/{id}/cancel waits for the task to end (its agent's answer) before answering 202 with status canceling.</summary>
    public TimeSpan CancelWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often persisted deadlines and quota hold expiries are swept.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TaskDeadlines Deadlines { get; set; } = new();

    /// <summary>An agent's task whose send failed is sent again after this long (after a restart, every unanswered one is).</summary>
    public TimeSpan OutboxRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Quota hold TTL per action; <see cref="DefaultHoldTtl"/> for the others.</summary>
    public Dictionary<string, TimeSpan> HoldTtl { get; set; } = new() { ["vm.create"] = TimeSpan.FromMinutes(30) };
    // Longer than a task may wait for its result (AwaitingResult), so a hold never lapses under a running task.
    public TimeSpan DefaultHoldTtl { get; set; } = TimeSpan.FromMinutes(30);

    public ElectionOptions Election { get; set; } = new();

    public AgentFleetOptions Agents { get; set; } = new();

    /// <summary>How long the saga and the results relay retry a message that failed on a transient storage error.</summary>
    public Messaging.TransientRetryOptions TransientRetry { get; set; } = new();

    /// <summary>The token service (OPENHVX_AUTHORITY): its discovery document and JWKS validate every bearer token.</summary>
    public string? Authority { get; set; }

    /// <summary>How often the token service's revocation list is read (a revoked token is refused here within this delay).</summary>
    public TimeSpan RevocationPoll { get; set; } = TimeSpan.FromSeconds(10);

    public Tenants.SeedOptions Seed { get; set; } = new();

    public Events.EventStreamOptions EventStreams { get; set; } = new();

    /// <summary>How often the gauges of <c>/metrics</c> that need the store (agents, quota holds, dead letters, outbox, webhook backlog) are sampled: one cheap read per store each time.</summary>
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Leases of the background jobs that one orchestrator at a time runs when several share the store.</summary>
    public Cluster.LeaseOptions Leases { get; set; } = new();

    /// <summary>How long finished tasks, idempotency keys and settled quota holds are kept.</summary>
    public Retention.RetentionOptions Retention { get; set; } = new();

    public TimeSpan HoldTtlFor(string action) => HoldTtl.TryGetValue(action, out var ttl) ? ttl : DefaultHoldTtl;
}

/// <summary>How long a task may stay in each non-final state before it fails with ERR_DEADLINE_&lt;STATE&gt;.</summary>
public sealed class TaskDeadlines
{
    public TimeSpan Validating { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan Electing { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan Enriching { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan HoldingQuota { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan Dispatching { get; set; } = TimeSpan.FromSeconds(60);
    // Below the vm.create hold TTL (30 min) and above the agent's vm.create timeout (25 min).
    public TimeSpan AwaitingResult { get; set; } = TimeSpan.FromMinutes(28);

    public TimeSpan? For(string state) => state switch
    {
        nameof(Validating) => Validating,
        nameof(Electing) => Electing,
        nameof(Enriching) => Enriching,
        nameof(HoldingQuota) => HoldingQuota,
        nameof(Dispatching) => Dispatching,
        nameof(AwaitingResult) => AwaitingResult,
        _ => null,
    };
}

/// <summary>The <c>Retry-After</c> of the task API's answers, in whole seconds (at least 1).</summary>
public sealed class RetryAfterOptions
{
    /// <summary>202 Accepted: how often a client should poll the task at its Location.</summary>
    public TimeSpan Polling { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>503 ERR_NO_ELIGIBLE_AGENT: when a heartbeat may show capacity again; default the agents' heartbeat interval.</summary>
    public TimeSpan? NoEligibleAgent { get; set; }

    /// <summary>503 ERR_UNAVAILABLE: when the orchestrator may take the task again.</summary>
    public TimeSpan Unavailable { get; set; } = TimeSpan.FromSeconds(5);
}
