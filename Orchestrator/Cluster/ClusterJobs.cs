namespace OpenHvx.Orchestrator.Cluster;

/// <summary>The background jobs that one orchestrator at a time runs when several share a store: the names of their leases.</summary>
public static class ClusterJobs
{
    /// <summary>Task deadlines, pickup windows and quota hold expiry (<see cref="Tasks.TaskDeadlineSweeper"/>).</summary>
    public const string DeadlineSweep = "deadline-sweep";

    /// <summary>Taking over the agent outbox entries of an orchestrator that is gone.</summary>
    public const string OutboxAdoption = "outbox-adoption";

    public const string WebhookDispatch = "webhook-dispatch";

    /// <summary>Asking the broker whether each agent's task queue has a consumer.</summary>
    public const string AgentQueueMonitor = "agent-queue-monitor";

    public const string Retention = "retention";

    /// <summary>Each live orchestrator holds the lease <c>instance:&lt;id&gt;</c>: the others read from it who is alive.</summary>
    public const string InstancePrefix = "instance:";
}
