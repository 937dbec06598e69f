using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Picks the agent (<see cref="AgentElection"/>): an action on a VM goes to the agent hosting it, a pinned task to its agent,
/// any other to the best eligible one; the requirement is placed on that agent so that concurrent elections see it taken.
/// Undo lets the placement go; success keeps it counting until a heartbeat of the agent shows what the task built.
/// </summary>
public sealed class ElectStep(IAgentStore agents, AgentRegistryCache registry, IImageStore images, TaskActionCatalog actions, TimeProvider clock, IOptions<OrchestratorOptions> options) : ITaskStep
{
    public string State => "Electing";

    public async Task RunAsync(TaskStepContext context)
    {
        var task = context.Task;
        if (await agents.GetPlacementAsync(task.CorrelationId, context.CancellationToken) is { } placed)
        {
            task.AgentId = placed.AgentId;
            return;
        }
        var requirement = await context.Action.GetRequirementAsync(task.Data, new ActionContext(images, context.Resource), context.CancellationToken);
        var pinned = context.Resource?.AgentId ?? task.Target?.AgentId;
        var decision = await ElectAsync(task, context.Action, requirement, pinned, context.CancellationToken);
        if (decision.AgentId is null)
        {
            var reason = decision.Candidates.Count == 0 ? "no agent is registered" : $"{decision.Considered} agent(s) considered, none eligible";
            throw new TaskRejectedException(ErrorCodes.NoEligibleAgent, $"No eligible agent for {task.Action}: {reason}.", new { requirement });
        }
    }

    /// <summary>
    /// Another agent for a task that its agent did not start within the pickup window, never one that had it before; null when
    /// none is eligible, or the task may run on its agent only (it acts on a VM there, or an admin pinned it).
    /// </summary>
    public async Task<ElectionDecision?> ReElectAsync(TaskState task, CancellationToken cancellationToken)
    {
        var action = actions.Get(task.Action);
        if (action.TargetsVm || task.Target?.AgentId is not null)
            return null;
        var placed = await agents.GetPlacementAsync(task.CorrelationId, cancellationToken);
        var requirement = placed is null ? QuotaAmounts.Zero : new QuotaAmounts(placed.Requirement.Cpu, placed.Requirement.MemoryMB, placed.Requirement.StorageMB, 0);
        var decision = await ElectAsync(task, action, requirement, pinned: null, cancellationToken);
        return decision.AgentId is null ? null : decision;
    }

    private async Task<ElectionDecision> ElectAsync(TaskState task, ITaskAction action, QuotaAmounts requirement, string? pinned, CancellationToken cancellationToken)
    {
        var (candidates, now) = await registry.ForElectionAsync(task.CorrelationId, cancellationToken);
        var decision = AgentElection.Elect(candidates, action.Capability, requirement, pinned, now, options.Value.Election, options.Value.Agents,
            task.TriedAgents, task.ExcludedAgents);
        if (decision.AgentId is null)
        {
            task.Placement ??= decision;
            return decision;
        }
        task.Placement = decision;
        task.AgentId = decision.AgentId;
        await agents.PlaceAsync(new AgentPlacement(task.CorrelationId, decision.AgentId,
            new AgentCapacity(requirement.Cpu, requirement.MemoryMB, requirement.StorageMB)), cancellationToken);
        return decision;
    }

    public Task UndoAsync(TaskState task, CancellationToken cancellationToken) => agents.ReleasePlacementAsync(task.CorrelationId, cancellationToken);

    // FinishedAt is the agent's own time (its result's): the agent's next heartbeat measured after it shows what the task built.
    public Task SettleAsync(TaskState task, CancellationToken cancellationToken)
        => agents.SettlePlacementAsync(task.CorrelationId, task.FinishedAt ?? clock.GetUtcNow(), cancellationToken);
}
