using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Picks the agent (<see cref="AgentElection"/>): an action on a VM goes to the agent hosting it, a pinned task to its agent,
/// any other to the best eligible one; the requirement is placed on that agent so that concurrent elections see it taken.
/// Undo and success both let the placement go.
/// </summary>
public sealed class ElectStep(IAgentStore agents, IImageStore images, TimeProvider clock, IOptions<OrchestratorOptions> options) : ITaskStep
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
        var registry = await agents.ListForElectionAsync(task.CorrelationId, context.CancellationToken);
        var decision = AgentElection.Elect(registry, context.Action.Capability, requirement, pinned, clock.GetUtcNow(), options.Value.Election);
        task.Placement = decision;
        if (decision.AgentId is null)
        {
            var reason = decision.Candidates.Count == 0 ? "no agent is registered" : $"{decision.Considered} agent(s) considered, none eligible";
            throw new TaskRejectedException(ErrorCodes.NoEligibleAgent, $"No eligible agent for {task.Action}: {reason}.", new { requirement });
        }
        task.AgentId = decision.AgentId;
        await agents.PlaceAsync(new AgentPlacement(task.CorrelationId, decision.AgentId,
            new AgentCapacity(requirement.Cpu, requirement.MemoryMB, requirement.StorageMB)), context.CancellationToken);
    }

    public Task UndoAsync(TaskState task, CancellationToken cancellationToken) => agents.ReleasePlacementAsync(task.CorrelationId, cancellationToken);

    public Task SettleAsync(TaskState task, CancellationToken cancellationToken) => agents.ReleasePlacementAsync(task.CorrelationId, cancellationToken);
}
