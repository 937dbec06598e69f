using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// Stores the agent's task in the outbox, in the task's own transaction, and sends it once that transaction has committed:
/// nothing reaches an agent that the store does not have, and a crash before the send is made up by <see cref="AgentOutboxRelay"/>.
/// </summary>
public sealed class DispatchStep(IAgentOutbox outbox, AgentOutboxRelay relay, IStoreTransactions transactions, TimeProvider clock) : ITaskStep
{
    public string State => "Dispatching";

    public async Task RunAsync(TaskStepContext context)
    {
        var task = context.Task;
        var message = new AgentTask(task.CorrelationId, task.TenantId, task.AgentId!, task.Action, task.EnrichedData ?? task.Data, task.CorrelationId.ToString(), task.Target);
        await outbox.AddAsync(message, clock.GetUtcNow(), context.CancellationToken);
        transactions.AfterCommit(() => relay.SendAsync(message), AfterCommitStage.Delivery);
    }

    public Task UndoAsync(TaskState task, CancellationToken cancellationToken) => outbox.RemoveAsync(task.CorrelationId, cancellationToken);

    public Task SettleAsync(TaskState task, CancellationToken cancellationToken) => outbox.RemoveAsync(task.CorrelationId, cancellationToken);
}
