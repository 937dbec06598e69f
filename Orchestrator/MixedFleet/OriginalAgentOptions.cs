namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// How the orchestrator drives agents of the original OpenHVX generation (the Go agent), section
/// <c>Orchestrator:Agents:Original</c>. Their heartbeats carry no capacity: it is taken from their inventory with these rules.
/// </summary>
public sealed class OriginalAgentOptions
{
    /// <summary>vCPUs offered per logical processor of an original agent's host (as <c>Agent:CpuOvercommit</c> for ours).</summary>
    public double CpuOvercommit { get; set; } = 4;

    /// <summary>
    /// How long an original agent may take to collect a full inventory. It stamps <c>collectedAt</c> after it has listed its VMs, so
    /// what it lists counts as of this long before the stamp: a VM a task built meanwhile is neither taken for gone nor its placement
    /// let go.
    /// </summary>
    public TimeSpan InventoryCollectionTime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Host memory kept for the parent partition, not offered to VMs.</summary>
    public long ReservedMemoryMB { get; set; }

    /// <summary>
    /// The folder on the original agents' hosts that holds the catalog's image files (for example <c>D:\openhvx\images</c>): their
    /// <c>vm.create</c> needs the base disk's full path (<c>imagePath</c>). Empty: no <c>vm.create</c> is placed on an original agent.
    /// </summary>
    public string ImagesPath { get; set; } = "";

    /// <summary>
    /// The original agents (by id) whose messages are believed without an AMQP user_id, which the Go agent never sends, while
    /// <c>Orchestrator:Agents:RequireBrokerIdentity</c> stays on for every other agent. Any broker user allowed to publish on
    /// <c>results</c> and <c>agent.telemetry</c> can speak for these agents: give such publish rights only to hosts you trust.
    /// </summary>
    public List<string> AgentIds { get; set; } = [];
}
