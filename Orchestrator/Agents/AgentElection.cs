using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Agents;

public sealed class ElectionOptions
{
    public double CpuWeight { get; set; } = 0.4;
    public double MemoryWeight { get; set; } = 0.4;
    public double StorageWeight { get; set; } = 0.2;
}

/// <summary>
/// Filters agents (online (<see cref="AgentLiveness"/>), not draining, not excluded, capable, enough free capacity after
/// placements) and scores the rest by weighted free capacity; ties go to the freshest heartbeat. Every candidate's outcome is kept.
/// </summary>
public static class AgentElection
{
    /// <summary>How many candidates a decision keeps (a task document stays small on an estate of a thousand hosts).</summary>
    public const int KeptCandidates = 16;

    public static ElectionDecision Elect(
        IReadOnlyList<AgentRecord> agents, string action, QuotaAmounts requirement, string? pinnedAgentId, DateTimeOffset now, ElectionOptions options,
        AgentFleetOptions fleet, IReadOnlyCollection<string>? excluded = null, IReadOnlyCollection<string>? excludedByAdmin = null)
    {
        var candidates = new List<ElectionCandidate>();
        foreach (var agent in agents)
        {
            var age = (now - agent.LastHeartbeatAt).TotalSeconds;
            var free = agent.Free ?? new AgentCapacity(0, 0, 0);
            var freeCpu = free.Cpu - agent.InFlight.Cpu;
            var freeMem = free.MemoryMB - agent.InFlight.MemoryMB;
            var freeStorage = free.StorageMB - agent.InFlight.StorageMB;

            string? reason = null;
            if (pinnedAgentId is not null && agent.AgentId != pinnedAgentId)
                reason = "not the pinned agent";
            else if (excluded?.Contains(agent.AgentId) == true)
                reason = "did not start this task in time before";
            else if (excludedByAdmin?.Contains(agent.AgentId) == true)
                reason = "excluded by an admin";
            // A pinned task (an action on a VM there, or an admin's pin) still runs on a draining host: draining stops new placements.
            else if (agent.Status == AgentAdminStatus.Draining && pinnedAgentId is null)
                reason = "draining";
            else if (AgentLiveness.Evaluate(agent, now, fleet) is { Online: false, Reason: var offline })
                reason = "offline: " + offline;
            else if (!ActionCapabilities.Offers(agent.Capabilities, action))
                reason = $"lacks capability {action}";
            else if (action == ActionNames.VmCreate && MixedFleet.AgentGenerations.IsOriginal(agent) && fleet.Original.ImagesPath.Length == 0)
                reason = "an agent of the original generation builds VMs only with Orchestrator:Agents:Original:ImagesPath set";
            else if (agent.Capacity is null || agent.Free is null)
                reason = "reported no capacity";
            else if (freeCpu < requirement.Cpu)
                reason = $"not enough CPU ({freeCpu} free, {requirement.Cpu} needed)";
            else if (freeMem < requirement.MemoryMB)
                reason = $"not enough memory ({freeMem} MB free, {requirement.MemoryMB} MB needed)";
            else if (freeStorage < requirement.StorageMB)
                reason = $"not enough storage ({freeStorage} MB free, {requirement.StorageMB} MB needed)";

            var score = reason is null ? Score(agent.Capacity!, freeCpu - requirement.Cpu, freeMem - requirement.MemoryMB, freeStorage - requirement.StorageMB, options) : 0;
            candidates.Add(new ElectionCandidate(agent.AgentId, reason is null, Math.Round(score, 4), reason, freeCpu, freeMem, freeStorage, Math.Round(age, 1)));
        }

        if (pinnedAgentId is not null && agents.All(a => a.AgentId != pinnedAgentId))
            candidates.Add(new ElectionCandidate(pinnedAgentId, false, 0, "pinned agent is not registered", 0, 0, 0, 0));

        var ranked = candidates
            .OrderByDescending(c => c.Eligible)
            .ThenByDescending(c => c.Score)
            .ThenBy(c => c.HeartbeatAgeSeconds)
            .ThenBy(c => c.AgentId, StringComparer.Ordinal)
            .Take(KeptCandidates)
            .ToList();
        var winner = ranked.FirstOrDefault(c => c.Eligible);
        return new ElectionDecision(winner?.AgentId, requirement, ranked, candidates.Count);
    }

    private static double Score(AgentCapacity capacity, long cpuLeft, long memLeft, long storageLeft, ElectionOptions options)
    {
        static double Fraction(long left, long total) => total <= 0 ? 0 : Math.Clamp((double)left / total, 0, 1);
        return options.CpuWeight * Fraction(cpuLeft, capacity.Cpu)
            + options.MemoryWeight * Fraction(memLeft, capacity.MemoryMB)
            + options.StorageWeight * Fraction(storageLeft, capacity.StorageMB);
    }
}
