namespace OpenHvx.Orchestrator.Cluster;

/// <summary>This process among the orchestrators sharing a store: its id names the leases it holds and the agent outbox entries it sends.</summary>
public sealed class OrchestratorInstance
{
    // Unique per start: a restarted process must not take over its predecessor's leases before they lapse (it cannot know
    // whether that process is truly gone or only paused).
    public string Id { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
}
