namespace OpenHvx.Orchestrator.Cluster;

/// <summary>Leases of the background jobs (<see cref="ClusterJobs"/>) among orchestrators sharing a store.</summary>
public sealed class LeaseOptions
{
    /// <summary>
    /// How long a lease holds without renewal: when its holder dies, another orchestrator takes the job this long after, at most.
    /// Renewed once half of it has passed; keep it well above the clock difference between the orchestrators' machines.
    /// </summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(15);
}
