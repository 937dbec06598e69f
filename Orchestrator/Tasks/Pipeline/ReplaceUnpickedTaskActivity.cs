using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// A task its agent did not start within the pickup window (or refused as expired): the agent will never start this attempt, so
/// the task goes to another eligible agent as a new attempt (Nova's alternate hosts). When no other agent may take it, it is sent
/// again to its own agent without a window while that agent is online, and fails <c>ERR_AGENT_UNAVAILABLE</c> when it is not
/// (everything it held given back). The machine moves a task with an error to Failed.
/// </summary>
public sealed class ReplaceUnpickedTaskActivity(
    ElectStep elect,
    DispatchStep dispatch,
    IAgentStore agents,
    TaskLifecycle lifecycle,
    IOptions<OrchestratorOptions> options,
    ILogger<ReplaceUnpickedTaskActivity> logger) : IStateMachineActivity<TaskState>
{
    public async Task Execute(BehaviorContext<TaskState> context, IBehavior<TaskState> next)
    {
        await ReplaceAsync(context.Saga, context.CancellationToken);
        await next.Execute(context);
    }

    public async Task Execute<T>(BehaviorContext<TaskState, T> context, IBehavior<TaskState, T> next) where T : class
    {
        await ReplaceAsync(context.Saga, context.CancellationToken);
        await next.Execute(context);
    }

    private async Task ReplaceAsync(TaskState saga, CancellationToken cancellationToken)
    {
        var from = saga.AgentId!;
        var window = options.Value.Agents.PickupWindow;
        if (!saga.TriedAgents.Contains(from))
            saga.TriedAgents.Add(from);

        if (await elect.ReElectAsync(saga, cancellationToken) is { AgentId: { } to })
        {
            saga.Attempt++;
            await dispatch.DispatchAsync(saga, withPickupWindow: true, cancellationToken);
            await NoteAsync(saga, $"{from} did not start the task within {window.TotalSeconds:0} s: re-placed on {to} (attempt {saga.Attempt})", cancellationToken);
            logger.LogWarning("Task {TaskId}: agent {From} did not start it within the pickup window; re-placed on {To} (attempt {Attempt})",
                saga.CorrelationId, from, to, saga.Attempt);
            return;
        }

        var agent = await agents.GetAsync(from, cancellationToken);
        var (online, reason) = agent is null ? (false, "it is not registered") : AgentLiveness.Evaluate(agent, lifecycle.Now, options.Value.Agents);
        if (online)
        {
            // Only this agent may run it, and it is alive: it gets the task when it gets to it (its journal runs a task id once).
            saga.Attempt++;
            await dispatch.DispatchAsync(saga, withPickupWindow: false, cancellationToken);
            await NoteAsync(saga, $"{from} did not start the task within {window.TotalSeconds:0} s and no other agent may take it: sent to it again without a window (attempt {saga.Attempt})",
                cancellationToken);
            return;
        }
        logger.LogWarning("Task {TaskId}: agent {From} did not start it and is offline ({Reason}); no other agent may take it", saga.CorrelationId, from, reason);
        await lifecycle.FailAsync(saga, ErrorCodes.AgentUnavailable,
            $"Agent {from} did not start the task within {window.TotalSeconds:0} s and is offline ({reason}); no other eligible agent may take it.", null, cancellationToken);
    }

    private Task NoteAsync(TaskState saga, string note, CancellationToken cancellationToken)
    {
        saga.UpdatedAt = lifecycle.Now;
        // A new attempt gets the whole wait for its result (the hold's TTL is not renewed: a success past it is still charged, flagged).
        saga.DeadlineAt = options.Value.Deadlines.For(saga.CurrentState) is { } deadline ? saga.UpdatedAt + deadline : saga.DeadlineAt;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, note));
        return lifecycle.PublishAsync(new TaskStateChanged(saga.CorrelationId, saga.TenantId, saga.Action, saga.CurrentState, saga.CurrentState, saga.Status, saga.UpdatedAt, null),
            cancellationToken);
    }

    public Task Faulted<TException>(BehaviorExceptionContext<TaskState, TException> context, IBehavior<TaskState> next) where TException : Exception
        => next.Faulted(context);

    public Task Faulted<T, TException>(BehaviorExceptionContext<TaskState, T, TException> context, IBehavior<TaskState, T> next)
        where T : class where TException : Exception
        => next.Faulted(context);

    public void Probe(ProbeContext context) => context.CreateScope("replace-unpicked-task");

    public void Accept(StateMachineVisitor visitor) => visitor.Visit(this);
}
