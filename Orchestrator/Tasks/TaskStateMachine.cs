using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// One task. A submission runs the whole pipeline (<see cref="TaskPipeline"/>: Validating, Electing, Enriching, HoldingQuota,
/// Dispatching) in one transition and one store transaction, then waits for its agent; the agent's messages and the deadline
/// sweeper move it on. Duplicates and stragglers change nothing.
/// </summary>
public sealed class TaskStateMachine : MassTransitStateMachine<TaskState>
{
    public TaskStateMachine(TaskLifecycle lifecycle)
    {
        InstanceState(x => x.CurrentState);

        Event(() => Submitted, e => e.CorrelateById(m => m.Message.TaskId));
        // An agent's message or a deadline for a task we never created is dropped (and logged by MassTransit), never a phantom task.
        Event(() => Started, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Reported, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Progressed, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => DeadlinePassed, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => PickupExpired, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Retried, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });

        BeforeEnterAny(binder => binder.ThenAsync(context => lifecycle.OnEnteringAsync(context, context.Message.Name)));

        Initially(
            When(Submitted)
                .Then(context => lifecycle.Begin(context.Saga, context.Message, context.RequestId, context.ResponseAddress))
                .Then(context => lifecycle.AnnounceRetry(context.Saga))
                .Activity(x => x.OfType<RunPipelineActivity>())
                .IfElse(context => context.Saga.Rejected,
                    refused => refused.TransitionTo(Failed),
                    dispatched => dispatched.TransitionTo(AwaitingResult)));

        During(AwaitingResult,
            When(Started, context => context.Message.AgentId == context.Saga.AgentId)
                .ThenAsync(lifecycle.MarkRunningAsync),
            // Not started within the pickup window, or refused by the agent as too late: another agent, or the same one without a window.
            When(PickupExpired, context => context.Message.Attempt == context.Saga.Attempt && context.Saga.Status == TaskStatuses.Sent)
                .Activity(x => x.OfInstanceType<ReplaceUnpickedTaskActivity>())
                .If(context => context.Saga.Error is not null, failed => failed.TransitionTo(Failed)),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && IsExpired(context.Message) && context.Saga.Status == TaskStatuses.Sent)
                .Activity(x => x.OfInstanceType<ReplaceUnpickedTaskActivity>())
                .If(context => context.Saga.Error is not null, failed => failed.TransitionTo(Failed)),
            When(Progressed, context => context.Message.AgentId == context.Saga.AgentId)
                .Then(context => TaskLifecycle.AddProgress(context.Saga, context.Message)));

        // A task an earlier version stored in Dispatching (its dispatch answer no longer exists) moves on when its agent speaks.
        During(Dispatching,
            When(Started, context => context.Message.AgentId == context.Saga.AgentId)
                .TransitionTo(AwaitingResult)
                .ThenAsync(lifecycle.MarkRunningAsync),
            When(Progressed, context => context.Message.AgentId == context.Saga.AgentId)
                .Then(context => TaskLifecycle.AddProgress(context.Saga, context.Message))
                .TransitionTo(AwaitingResult));

        During(Dispatching, AwaitingResult,
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && context.Message.Ok)
                .ThenAsync(context => lifecycle.SucceedAsync(context.Saga, context.Message, late: false, context.CancellationToken))
                .TransitionTo(Succeeded),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && !context.Message.Ok
                && !(IsExpired(context.Message) && context.Saga.Status == TaskStatuses.Sent))
                .ThenAsync(context => lifecycle.AgentFailedAsync(context.Saga, context.Message, context.CancellationToken))
                .TransitionTo(Failed));

        // Tasks stored mid-pipeline by an earlier version end at their deadline, like any task that stops moving.
        During(new[] { Validating, Electing, Enriching, HoldingQuota, Dispatching, AwaitingResult },
            When(DeadlinePassed, context => context.Message.State == context.Saga.CurrentState && context.Saga.DeadlineAt <= lifecycle.Now)
                .ThenAsync(context => lifecycle.FailAsync(context.Saga, ErrorCodes.Deadline(context.Saga.CurrentState),
                    $"The task missed its deadline in state {context.Saga.CurrentState}.", null, context.CancellationToken))
                .TransitionTo(Failed));

        // A success after the task failed (its deadline) is still charged and linked, flagged.
        During(Failed,
            When(Reported, context => context.Message.Ok && !context.Saga.AgentReported && context.Saga.AgentId == context.Message.AgentId)
                .ThenAsync(async context =>
                {
                    await lifecycle.SucceedAsync(context.Saga, context.Message, late: true, context.CancellationToken);
                    await lifecycle.PublishAsync(new TaskStateChanged(context.Saga.CorrelationId, context.Saga.TenantId, context.Saga.Action,
                        context.Saga.CurrentState, context.Saga.CurrentState, context.Saga.Status, lifecycle.Now, "LATE_SUCCESS"), context.CancellationToken);
                }));

        // The link of a retry, in whichever final state may be retried (the status says which).
        DuringAny(
            When(Retried, context => context.Saga.Status is TaskStatuses.Failed or TaskStatuses.Canceled)
                .Then(context => lifecycle.MarkRetried(context.Saga, context.Message)));

        DuringAny(
            Ignore(Retried),
            Ignore(PickupExpired),
            Ignore(Submitted),
            Ignore(Started),
            Ignore(Reported),
            Ignore(Progressed),
            Ignore(DeadlinePassed));
    }

    public State Validating { get; private set; } = null!;
    public State Electing { get; private set; } = null!;
    public State Enriching { get; private set; } = null!;
    public State HoldingQuota { get; private set; } = null!;
    public State Dispatching { get; private set; } = null!;
    public State AwaitingResult { get; private set; } = null!;
    public State Succeeded { get; private set; } = null!;
    public State Failed { get; private set; } = null!;

    public Event<SubmitTask> Submitted { get; private set; } = null!;
    public Event<AgentTaskStarted> Started { get; private set; } = null!;
    public Event<AgentTaskResult> Reported { get; private set; } = null!;
    public Event<AgentTaskProgress> Progressed { get; private set; } = null!;
    public Event<TaskDeadlineExpired> DeadlinePassed { get; private set; } = null!;
    public Event<TaskPickupExpired> PickupExpired { get; private set; } = null!;
    public Event<TaskRetried> Retried { get; private set; } = null!;

    /// <summary>
    /// From the task's agent, and not an <c>ERR_EXPIRED</c> of an earlier attempt (a delivery that reached the agent after the task was
    /// sent to it again). Any other result of that agent is the task's outcome whatever its attempt: the agent runs a task id once, and
    /// replays that run's result (with its attempt) to a later delivery.
    /// </summary>
    private static bool FromCurrentAttempt(TaskState saga, AgentTaskResult result)
        => result.AgentId == saga.AgentId && !(IsExpired(result) && (result.Attempt ?? saga.Attempt) != saga.Attempt);

    /// <summary>The agent got the task after its not-after time and did not run it.</summary>
    private static bool IsExpired(AgentTaskResult result) => !result.Ok && result.Error?.Code == ErrorCodes.Expired;
}
