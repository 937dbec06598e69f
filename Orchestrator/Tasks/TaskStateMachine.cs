using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// One task. A submission runs the whole pipeline (<see cref="TaskPipeline"/>: Validating, Electing, Enriching, HoldingQuota,
/// Dispatching) in one transition and one store transaction, then waits for its agent; the agent's messages and the deadline
/// sweeper move it on. A cancel ends a task that has not been dispatched at once, and asks the agent of a dispatched one to stop it
/// (Canceling), whose answer decides between Canceled, Succeeded (it finished first) and Failed. Duplicates and stragglers change nothing.
/// </summary>
public sealed class TaskStateMachine : MassTransitStateMachine<TaskState>
{
    public TaskStateMachine(TaskLifecycle lifecycle, CancelTaskActivity cancel)
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
        Event(() => CancelRequested, e =>
        {
            e.CorrelateById(m => m.Message.TaskId);
            e.OnMissingInstance(m => m.ExecuteAsync(context => context.RespondAsync(new TaskNotFound(context.Message.TaskId))));
        });

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

        // A cancel before the task ends: at once before dispatch (or when its agent is offline), else its agent is asked to stop it.
        During(new[] { Validating, Electing, Enriching, HoldingQuota, Dispatching, AwaitingResult },
            When(CancelRequested)
                .Activity(x => x.OfType<CancelTaskActivity>())
                .IfElse(context => context.Saga.Error is not null,
                    canceled => canceled.TransitionTo(Canceled),
                    asked => asked.TransitionTo(Canceling))
                .Then(context => lifecycle.AnswerCancel(context, alreadyFinal: false)));

        // Waiting for the agent's answer to the cancel; the hold and the placement stay until it comes.
        During(Canceling,
            When(CancelRequested)
                .Then(context => lifecycle.AnswerCancel(context, alreadyFinal: false)),
            When(Started, context => context.Message.AgentId == context.Saga.AgentId)
                .ThenAsync(cancel.OnStartedAsync),
            When(Progressed, context => context.Message.AgentId == context.Saga.AgentId)
                .Then(context => TaskLifecycle.AddProgress(context.Saga, context.Message)),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && context.Message.Ok)
                .Then(context => lifecycle.AddNote(context.Saga, "its agent had finished the task before the cancel reached it"))
                .ThenAsync(context => lifecycle.SucceedAsync(context.Saga, context.Message, late: false, context.CancellationToken))
                .TransitionTo(Succeeded),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && IsCanceled(context.Message))
                .Then(context => lifecycle.AddNote(context.Saga, context.Message.StartedAt is null
                    ? "its agent confirmed: it had not started the task and never will"
                    : "its agent confirmed: it stopped the task's script and removed what the task had built"))
                .ThenAsync(context => lifecycle.AgentFailedAsync(context.Saga, context.Message, context.CancellationToken))
                .TransitionTo(Canceled),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && IsExpired(context.Message))
                .Then(context => lifecycle.AddNote(context.Saga, "its agent got the task after its pickup window and did not run it"))
                .ThenAsync(context => lifecycle.CancelAsync(context.Saga, "Canceled: its agent got the task too late to start it, and did not run it.",
                    null, context.CancellationToken))
                .TransitionTo(Canceled),
            When(Reported, context => FromCurrentAttempt(context.Saga, context.Message) && !context.Message.Ok
                && !IsCanceled(context.Message) && !IsExpired(context.Message))
                .Then(context => lifecycle.AddNote(context.Saga, $"its agent had ended the task with {context.Message.Error?.Code} before the cancel reached it"))
                .ThenAsync(context => lifecycle.AgentFailedAsync(context.Saga, context.Message, context.CancellationToken))
                .TransitionTo(Failed),
            // Its agent never starts this attempt any more (its pickup window has closed): nothing ran.
            When(PickupExpired, context => context.Message.Attempt == context.Saga.Attempt && context.Saga.StartedAt is null)
                .ThenAsync(context => lifecycle.CancelAsync(context.Saga, "Canceled: its agent did not start the task within its pickup window, and never will.",
                    null, context.CancellationToken))
                .TransitionTo(Canceled),
            When(DeadlinePassed, context => context.Message.State == context.Saga.CurrentState && context.Saga.DeadlineAt <= lifecycle.Now)
                .ThenAsync(context => lifecycle.CancelAsync(context.Saga, context.Saga.StartedAt is null && context.Saga.PickupBy <= lifecycle.Now
                    ? "Canceled: its agent did not start the task within its pickup window, and never will."
                    : "Canceled: its agent did not confirm by the task's deadline; everything the task held is given back, and a success the agent reports later is still charged and linked.",
                    null, context.CancellationToken))
                .TransitionTo(Canceled));

        During(Succeeded, Failed, Canceled,
            When(CancelRequested)
                .Then(context => lifecycle.AnswerCancel(context, alreadyFinal: true)));

        // What a canceled task's agent says after the task ended without its answer (the agent was offline, or the deadline passed).
        During(Canceled,
            When(Reported, context => !context.Message.Ok && !context.Saga.AgentReported && context.Saga.AgentId == context.Message.AgentId
                && !IsExpired(context.Message))
                .Then(context =>
                {
                    context.Saga.AgentReported = true;
                    lifecycle.AddNote(context.Saga, $"its agent answered afterwards: {context.Message.Error?.Code}");
                }));

        // A success after the task failed (its deadline) or was canceled without its agent's answer is still charged and linked, flagged.
        During(Failed, Canceled,
            When(Reported, context => context.Message.Ok && !context.Saga.AgentReported && context.Saga.AgentId == context.Message.AgentId)
                .ThenAsync(async context =>
                {
                    await lifecycle.SucceedAsync(context.Saga, context.Message, late: true, context.CancellationToken);
                    await lifecycle.PublishAsync(new TaskStateChanged(context.Saga.CorrelationId, context.Saga.TenantId, context.Saga.Action,
                        context.Saga.CurrentState, context.Saga.CurrentState, context.Saga.Status, lifecycle.Now, ErrorCodes.LateSuccess), context.CancellationToken);
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
            Ignore(DeadlinePassed),
            Ignore(CancelRequested));
    }

    public State Validating { get; private set; } = null!;
    public State Electing { get; private set; } = null!;
    public State Enriching { get; private set; } = null!;
    public State HoldingQuota { get; private set; } = null!;
    public State Dispatching { get; private set; } = null!;
    public State AwaitingResult { get; private set; } = null!;
    public State Succeeded { get; private set; } = null!;
    public State Failed { get; private set; } = null!;
    /// <summary>Its agent has been asked to stop the task and has not answered yet (status <c>canceling</c>).</summary>
    public State Canceling { get; private set; } = null!;
    /// <summary>Final: canceled, nothing it held kept (status <c>CANCELED</c>).</summary>
    public State Canceled { get; private set; } = null!;

    public Event<SubmitTask> Submitted { get; private set; } = null!;
    public Event<AgentTaskStarted> Started { get; private set; } = null!;
    public Event<AgentTaskResult> Reported { get; private set; } = null!;
    public Event<AgentTaskProgress> Progressed { get; private set; } = null!;
    public Event<TaskDeadlineExpired> DeadlinePassed { get; private set; } = null!;
    public Event<TaskPickupExpired> PickupExpired { get; private set; } = null!;
    public Event<TaskRetried> Retried { get; private set; } = null!;
    public Event<CancelTask> CancelRequested { get; private set; } = null!;

    /// <summary>
    /// From the task's agent, and not an <c>ERR_EXPIRED</c> of an earlier attempt (a delivery that reached the agent after the task was
    /// sent to it again). Any other result of that agent is the task's outcome whatever its attempt: the agent runs a task id once, and
    /// replays that run's result (with its attempt) to a later delivery.
    /// </summary>
    private static bool FromCurrentAttempt(TaskState saga, AgentTaskResult result)
        => result.AgentId == saga.AgentId && !(IsExpired(result) && (result.Attempt ?? saga.Attempt) != saga.Attempt);

    /// <summary>The agent got the task after its not-after time and did not run it.</summary>
    private static bool IsExpired(AgentTaskResult result) => !result.Ok && result.Error?.Code == ErrorCodes.Expired;

    /// <summary>The agent canceled the task: did not run it, or stopped it and removed what it built.</summary>
    private static bool IsCanceled(AgentTaskResult result) => !result.Ok && result.Error?.Code == ErrorCodes.Canceled;
}
