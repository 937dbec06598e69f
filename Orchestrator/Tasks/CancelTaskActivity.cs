using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// A cancel request (<see cref="CancelTask"/>) on a task that has not ended. Before dispatch (a task an earlier version stored
/// mid-pipeline) everything it took is given back at once. A dispatched task leaves the outbox (it is not sent again) and its agent is
/// asked to stop it (<see cref="AgentTaskCancel"/>, after the commit); the task then waits in Canceling for the agent's answer, keeping
/// its hold and placement. An agent that is offline cannot answer: a task it has not started with a pickup window waits until that
/// window closes (the agent never starts it later); any other is canceled at once, the message waits in the agent's control queue, and
/// a success the agent reports later is still charged. The machine moves a task with an error to Canceled.
/// </summary>
public sealed class CancelTaskActivity(
    TaskLifecycle lifecycle,
    IAgentOutbox outbox,
    IAgentStore agents,
    IAgentControlSender control,
    IStoreTransactions transactions,
    IOptions<OrchestratorOptions> options,
    ILogger<CancelTaskActivity> logger) : IStateMachineActivity<TaskState, CancelTask>
{
    public async Task Execute(BehaviorContext<TaskState, CancelTask> context, IBehavior<TaskState, CancelTask> next)
    {
        await CancelAsync(context.Saga, context.Message, context.CancellationToken);
        await next.Execute(context);
    }

    private async Task CancelAsync(TaskState saga, CancelTask request, CancellationToken cancellationToken)
    {
        saga.CancelRequestedBy = request.ByAdmin ? "admin:" + request.RequestedBy : request.RequestedBy;
        saga.CancelRequestedAt = request.RequestedAt;
        // Tenants read the timeline: an admin is not named there.
        var who = request.ByAdmin ? "an admin" : $"user {request.RequestedBy}";
        var agent = saga.AgentId is null ? null : await agents.GetAsync(saga.AgentId, cancellationToken);
        // The original agent has no control queue and cannot stop a task: nothing is sent where nobody reads.
        var canStop = agent is null || !AgentGenerations.IsOriginal(agent);
        if (saga.CurrentState != nameof(TaskStateMachine.AwaitingResult))
        {
            // Stored mid-pipeline by an earlier version; one in Dispatching may have reached its agent already.
            if (saga.AgentId is not null && canStop)
                AskAgentToStop(saga);
            lifecycle.AddNote(saga, $"cancel requested by {who} before the task was dispatched");
            await lifecycle.CancelAsync(saga, $"Canceled by {who} before it was dispatched: nothing ran, and nothing it held is kept.", null, cancellationToken);
            return;
        }

        // Never sent again nor taken for unpicked: the task now waits for its agent's answer (or its pickup window, TaskLifecycle).
        await outbox.RemoveAsync(saga.CorrelationId, cancellationToken);
        if (!canStop)
        {
            // It may still run the task: everything the task holds stays until its result, which decides (a success is kept), or its deadline.
            lifecycle.AddNote(saga, $"cancel requested by {who}: its agent, of the original OpenHVX generation, cannot stop a task; "
                + "the task ends with the agent's result or at its deadline");
            return;
        }
        AskAgentToStop(saga);
        var (online, reason) = agent is null ? (false, "it is not registered") : AgentLiveness.Evaluate(agent, lifecycle.Now, options.Value.Agents);
        if (online)
        {
            lifecycle.AddNote(saga, $"cancel requested by {who}: its agent was asked to stop the task");
            return;
        }
        if (saga.StartedAt is null && saga.PickupBy is not null)
        {
            // Offline may be a restart: back within the window, it could start the task before it reads the cancel. Past the window it
            // never starts it, so the task waits until then (its Canceling deadline) and nothing is given back while it could still run.
            lifecycle.AddNote(saga, $"cancel requested by {who}: its agent is offline; the task ends when its pickup window closes, unless the agent answers first");
            return;
        }
        logger.LogWarning("Task {TaskId}: canceled while its agent {AgentId} is offline ({Reason}); the cancel waits in the agent's control queue",
            saga.CorrelationId, saga.AgentId, reason);
        lifecycle.AddNote(saga, $"cancel requested by {who}: its agent is offline and cannot confirm, so the task is canceled without its answer");
        await lifecycle.CancelAsync(saga,
            $"Canceled by {who} while its agent was offline ({reason}). The agent is told when it is back and will not start the task; "
            + "had it finished the task, its success is still charged and linked.", null, cancellationToken);
    }

    /// <summary>
    /// The agent reports that it started the task: the cancel had not reached it yet (or was lost). It is asked again, and the task now
    /// waits for its answer as long as a running task waits for its result.
    /// </summary>
    public Task OnStartedAsync(BehaviorContext<TaskState, AgentTaskStarted> context)
    {
        var saga = context.Saga;
        if (saga.StartedAt is not null)
            return Task.CompletedTask;
        saga.StartedAt = context.Message.StartedAt;
        saga.DeadlineAt = lifecycle.Now + options.Value.Deadlines.AwaitingResult;
        AskAgentToStop(saga);
        lifecycle.AddNote(saga, "its agent had started the task when the cancel reached it: asked again to stop it");
        return Task.CompletedTask;
    }

    /// <summary>Sends the task's agent an <see cref="AgentTaskCancel"/> once the transaction has committed; one that is lost is logged (the task's deadline still ends it).</summary>
    private void AskAgentToStop(TaskState saga)
    {
        var cancel = new AgentTaskCancel(saga.CorrelationId, saga.TenantId, saga.AgentId!, saga.Action, saga.Attempt, lifecycle.Now);
        transactions.AfterCommit(async () =>
        {
            try
            {
                await control.SendAsync(cancel, CancellationToken.None);
            }
            catch (Exception ex)
            {
                logger.LogWarning("Task {TaskId}: the cancel could not be sent to agent {AgentId} ({Message})", cancel.TaskId, cancel.AgentId, ex.Message);
            }
        }, AfterCommitStage.Delivery);
    }

    public Task Faulted<TException>(BehaviorExceptionContext<TaskState, CancelTask, TException> context, IBehavior<TaskState, CancelTask> next)
        where TException : Exception
        => next.Faulted(context);

    public void Probe(ProbeContext context) => context.CreateScope("cancel-task");

    public void Accept(StateMachineVisitor visitor) => visitor.Visit(this);
}
