using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Tasks;

public sealed class TaskStateMachine : MassTransitStateMachine<TaskState>
{
    public TaskStateMachine(TaskLifecycle lifecycle)
    {
        InstanceState(x => x.CurrentState);

        Event(() => Submitted, e => e.CorrelateById(m => m.Message.TaskId));
        Event(() => Validated, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Elected, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Enriched, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Held, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Dispatched, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => StepFailed, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Started, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        // A result for a task we never created is dropped (and logged by MassTransit), never a phantom task.
        Event(() => Reported, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Progressed, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Stalled, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => DeadlinePassed, e => { e.CorrelateById(m => m.Message.TaskId); e.OnMissingInstance(m => m.Discard()); });

        BeforeEnterAny(binder => binder.ThenAsync(context => lifecycle.OnEnteringAsync(context, context.Message.Name)));

        Initially(
            When(Submitted)
                .Then(context =>
                {
                    var saga = context.Saga;
                    var message = context.Message;
                    saga.TenantId = message.TenantId;
                    saga.Action = message.Action;
                    saga.Target = message.Target;
                    saga.Data = message.Data;
                    saga.SubmittedBy = message.SubmittedBy;
                    saga.CreatedAt = lifecycle.Now;
                    saga.RequestId = context.RequestId;
                    saga.ResponseAddress = context.ResponseAddress;
                })
                .TransitionTo(Validating)
                .Publish(context => Commands.Validate(context.Saga)));

        During(Validating,
            When(Validated)
                .TransitionTo(Electing)
                .Publish(context => Commands.Elect(context.Saga)));

        During(Electing,
            When(Elected)
                .Then(context =>
                {
                    context.Saga.AgentId = context.Message.AgentId;
                    context.Saga.Placement = context.Message.Decision;
                })
                .TransitionTo(Enriching)
                .Publish(context => Commands.Enrich(context.Saga)));

        During(Enriching,
            When(Enriched)
                .Then(context =>
                {
                    context.Saga.EnrichedData = context.Message.Data;
                    context.Saga.QuotaDeltas = context.Message.QuotaDeltas;
                })
                .TransitionTo(HoldingQuota)
                .Publish(context => Commands.Hold(context.Saga)));

        During(HoldingQuota,
            When(Held)
                .Then(context =>
                {
                    context.Saga.QuotaHold = QuotaHoldStatuses.Held;
                    context.Saga.QuotaHoldExpiresAt = context.Message.ExpiresAt;
                })
                .TransitionTo(Dispatching)
                .Publish(context => Commands.Dispatch(context.Saga)));

        During(Dispatching,
            When(Dispatched).TransitionTo(AwaitingResult));

        // A step whose command or answer was lost (a crash between saving and publishing) is sent again;
        // every step is idempotent per task, and the agent runs a task id at most once.
        During(Validating, When(Stalled, IsStalledHere).Then(lifecycle.MarkRedriven).Publish(context => Commands.Validate(context.Saga)));
        During(Electing, When(Stalled, IsStalledHere).Then(lifecycle.MarkRedriven).Publish(context => Commands.Elect(context.Saga)));
        During(Enriching, When(Stalled, IsStalledHere).Then(lifecycle.MarkRedriven).Publish(context => Commands.Enrich(context.Saga)));
        During(HoldingQuota, When(Stalled, IsStalledHere).Then(lifecycle.MarkRedriven).Publish(context => Commands.Hold(context.Saga)));
        During(Dispatching, When(Stalled, IsStalledHere).Then(lifecycle.MarkRedriven).Publish(context => Commands.Dispatch(context.Saga)));

        During(new[] { Validating, Electing, Enriching, HoldingQuota, Dispatching },
            // A refusal from a step the task has left (an answer to a re-sent step) changes nothing.
            When(StepFailed, context => context.Message.Step == context.Saga.CurrentState)
                .Then(context =>
                {
                    context.Saga.Placement ??= context.Message.Decision;
                    context.Saga.Rejected = true;
                })
                .ThenAsync(context => lifecycle.FailAsync(context.Saga, context.Message.Code, context.Message.Message, context.Message.Details, context.CancellationToken))
                .TransitionTo(Failed));

        During(Dispatching, AwaitingResult,
            When(Started, context => context.Message.AgentId == context.Saga.AgentId)
                .ThenAsync(lifecycle.MarkRunningAsync),
            When(Progressed, context => context.Message.AgentId == context.Saga.AgentId)
                .Then(context => TaskLifecycle.AddProgress(context.Saga, context.Message)),
            // The result may overtake the saga's own dispatch transition: accept it in Dispatching too.
            When(Reported, context => context.Message.AgentId == context.Saga.AgentId && context.Message.Ok)
                .ThenAsync(context => lifecycle.SucceedAsync(context.Saga, context.Message, late: false, context.CancellationToken))
                .TransitionTo(Succeeded),
            When(Reported, context => context.Message.AgentId == context.Saga.AgentId && !context.Message.Ok)
                .Then(context =>
                {
                    context.Saga.AgentReported = true;
                    context.Saga.StartedAt ??= context.Message.StartedAt;
                })
                .ThenAsync(context => lifecycle.FailAsync(context.Saga,
                    context.Message.Error?.Code ?? ErrorCodes.ScriptFailed,
                    context.Message.Error?.Message ?? "The agent reported a failure without an error.",
                    context.Message.Error?.Details, context.CancellationToken, fromAgent: true))
                .TransitionTo(Failed));

        During(new[] { Validating, Electing, Enriching, HoldingQuota, Dispatching, AwaitingResult },
            When(DeadlinePassed, context => context.Message.State == context.Saga.CurrentState && context.Saga.DeadlineAt <= lifecycle.Now)
                .ThenAsync(context => lifecycle.FailAsync(context.Saga, ErrorCodes.Deadline(context.Saga.CurrentState),
                    $"The task missed its deadline in state {context.Saga.CurrentState}.", null, context.CancellationToken))
                .TransitionTo(Failed));

        // A success after the task failed (deadline, lost dispatch answer) is still charged and linked, flagged.
        During(Failed,
            When(Reported, context => context.Message.Ok && !context.Saga.AgentReported && context.Saga.AgentId == context.Message.AgentId)
                .ThenAsync(async context =>
                {
                    await lifecycle.SucceedAsync(context.Saga, context.Message, late: true, context.CancellationToken);
                    await context.Publish(new TaskStateChanged(context.Saga.CorrelationId, context.Saga.TenantId, context.Saga.Action,
                        context.Saga.CurrentState, context.Saga.CurrentState, context.Saga.Status, lifecycle.Now, "LATE_SUCCESS"));
                }));

        // A step answering after the task ended (a re-sent step, a backlog past a deadline) must not keep what it reserved.
        During(new[] { Succeeded, Failed },
            When(Validated).ThenAsync(context => lifecycle.SettleStragglerAsync(context.Saga, context.CancellationToken)),
            When(Elected).ThenAsync(context => lifecycle.SettleStragglerAsync(context.Saga, context.CancellationToken)),
            When(Held).ThenAsync(context => lifecycle.SettleStragglerAsync(context.Saga, context.CancellationToken)));

        // Duplicates and stragglers change nothing.
        DuringAny(
            Ignore(Submitted),
            Ignore(Validated),
            Ignore(Elected),
            Ignore(Enriched),
            Ignore(Held),
            Ignore(Dispatched),
            Ignore(StepFailed),
            Ignore(Started),
            Ignore(Reported),
            Ignore(Progressed),
            Ignore(Stalled),
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
    public Event<TaskValidated> Validated { get; private set; } = null!;
    public Event<AgentElected> Elected { get; private set; } = null!;
    public Event<TaskEnriched> Enriched { get; private set; } = null!;
    public Event<QuotaHeld> Held { get; private set; } = null!;
    public Event<TaskDispatched> Dispatched { get; private set; } = null!;
    public Event<TaskStepFailed> StepFailed { get; private set; } = null!;
    public Event<AgentTaskStarted> Started { get; private set; } = null!;
    public Event<AgentTaskResult> Reported { get; private set; } = null!;
    public Event<AgentTaskProgress> Progressed { get; private set; } = null!;
    public Event<TaskDeadlineExpired> DeadlinePassed { get; private set; } = null!;
    public Event<TaskStepStalled> Stalled { get; private set; } = null!;

    private static bool IsStalledHere(BehaviorContext<TaskState, TaskStepStalled> context)
        => context.Message.State == context.Saga.CurrentState && context.Message.UpdatedAt.ToUnixTimeMilliseconds() == context.Saga.UpdatedAt.ToUnixTimeMilliseconds();

    /// <summary>The command each pre-dispatch state sends, built from the task document.</summary>
    private static class Commands
    {
        public static ValidateTask Validate(TaskState t) => new(t.CorrelationId, t.TenantId, t.Action, t.Target, t.Data);
        public static ElectAgent Elect(TaskState t) => new(t.CorrelationId, t.TenantId, t.Action, t.Target, t.Data);
        public static EnrichTask Enrich(TaskState t) => new(t.CorrelationId, t.TenantId, t.Action, t.AgentId!, t.Data, t.Target);
        public static HoldQuota Hold(TaskState t) => new(t.CorrelationId, t.TenantId, t.Action, t.AgentId!, t.QuotaDeltas!);
        public static DispatchTask Dispatch(TaskState t) => new(t.CorrelationId, t.TenantId, t.AgentId!, t.Action, t.EnrichedData ?? t.Data, t.Target);
    }
}
