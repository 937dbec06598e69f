namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// How the orchestrator drives agents of the original OpenHVX generation (the Go agent), section
/// <c>Orchestrator:Agents:Original</c>. Their heartbeats carry no capacity: it is taken from their inventory with these rules.
/// </summary>
public sealed class OriginalAgentOptions
{
    /// <summary>vCPUs offered per logical processor of an original agent's host (as <c>Agent:CpuOvercommit</c> for ours).</summary>
    public double CpuOvercommit { get; set; } = 4;

    /// <summary>Host memory kept for the parent partition, not offered to VMs.</summary>
    public long ReservedMemoryMB { get; set; }

    /// <summary>
    /// The folder on the original agents' hosts that holds the catalog's image files (for example <c>D:\openhvx\images</c>): their
    /// <c>vm.create</c> needs the base disk's full path (<c>imagePath</c>). Empty: no <c>vm.create</c> is placed on an original agent.
    /// </summary>
    public string ImagesPath { get; set; } = "";
}
