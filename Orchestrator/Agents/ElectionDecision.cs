using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Agents;

public sealed record ElectionCandidate(
    string AgentId,
    bool Eligible,
    double Score,
    string? Reason,
    long FreeCpu,
    long FreeMemoryMB,
    long FreeStorageMB,
    double HeartbeatAgeSeconds);

/// <summary>
/// The placement decision stored on the task: the chosen agent and why the others were not chosen (the best
/// <see cref="AgentElection.KeptCandidates"/> of them, eligible ones first; <see cref="Considered"/> counts them all).
/// </summary>
public sealed record ElectionDecision(string? AgentId, QuotaAmounts Requirement, IReadOnlyList<ElectionCandidate> Candidates, int Considered = 0);
