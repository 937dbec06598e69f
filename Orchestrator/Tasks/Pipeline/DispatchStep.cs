using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Stores the agent's task in the outbox, in the task's own transaction, and sends it once that transaction has committed:
/// nothing reaches an agent that the store does not have, and a crash before the send is made up by <see cref="AgentOutboxRelay"/>.
/// The task carries a not-after time (the pickup window): the agent never starts it later, so it may then go to another agent.
/// </summary>
public sealed class DispatchStep(IAgentOutbox outbox, AgentOutboxRelay relay, IAgentStore agents, IStoreTransactions transactions, TimeProvider clock,
    IOptions<OrchestratorOptions> options) : ITaskStep
{
    public string State => "Dispatching";

    public Task RunAsync(TaskStepContext context) => DispatchAsync(context.Task, withPickupWindow: true, context.CancellationToken, context.Resource?.Name);

    /// <summary>
    /// Stores the task's current attempt for its agent and sends it after the commit. Without a pickup window the agent may start it
    /// whenever it gets to it: a task that no other agent may take, or an agent that would not honour the window (one of an earlier
    /// generation, whose heartbeats do not state their interval), which is never given a window it would ignore.
    /// </summary>
    /// <param name="vmName">the name of the VM the task acts on, which the original agent's <c>vm.edit</c> finds it by</param>
    public async Task DispatchAsync(TaskState task, bool withPickupWindow, CancellationToken cancellationToken, string? vmName = null)
    {
        var now = clock.GetUtcNow();
        var agent = await agents.GetAsync(task.AgentId!, cancellationToken);
        withPickupWindow &= agent is not null && AgentLiveness.HonoursNotAfter(agent);
        var fleet = options.Value.Agents;
        DateTimeOffset? notAfter = withPickupWindow ? now + fleet.PickupWindow : null;
        var data = task.EnrichedData ?? task.Data;
        // An agent of the original generation reads its scripts' own field names.
        if (agent is not null && AgentGenerations.IsOriginal(agent))
            data = OriginalAgentData.Translate(task.Action, data, task.Target, vmName, fleet.Original);
        var message = new AgentTask(task.CorrelationId, task.TenantId, task.AgentId!, task.Action, data, task.CorrelationId.ToString(),
            task.Target, task.Attempt, notAfter);
        task.PickupBy = notAfter + fleet.PickupGrace;
        await outbox.AddAsync(message, now, task.PickupBy, cancellationToken);
        transactions.AfterCommit(() => relay.SendAsync(message), AfterCommitStage.Delivery);
    }

    public Task UndoAsync(TaskState task, CancellationToken cancellationToken) => outbox.RemoveAsync(task.CorrelationId, cancellationToken);

    public Task SettleAsync(TaskState task, CancellationToken cancellationToken) => outbox.RemoveAsync(task.CorrelationId, cancellationToken);
}
