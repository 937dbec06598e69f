using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// What the task saga does on its transitions: the timeline, deadlines and status, the answer to the waiting API request,
/// TaskStateChanged, and the settlement of what the pipeline's steps took (<see cref="TaskPipeline"/>), all inside the
/// message's store transaction. Every settlement is idempotent.
/// </summary>
public sealed class TaskLifecycle(
    TaskPipeline pipeline,
    IAgentOutbox outbox,
    IStoreTransactions transactions,
    ITaskEventPublisher events,
    Events.ITaskEventLog eventLog,
    Events.TaskEventSignal eventSignal,
    IServiceProvider services,
    IAgentStore agents,
    IResourceStore resources,
    TaskActionCatalog actions,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    Telemetry.TaskTransitionMetrics transitionMetrics,
    ILogger<TaskLifecycle> logger)
{
    public const int MaxProgressEntries = 200;

    public DateTimeOffset Now => clock.GetUtcNow();

    public static string StatusOf(string state, string currentStatus) => state switch
    {
        nameof(TaskStateMachine.AwaitingResult) => currentStatus == TaskStatuses.Running ? TaskStatuses.Running : TaskStatuses.Sent,
        nameof(TaskStateMachine.Succeeded) => TaskStatuses.Succeeded,
        nameof(TaskStateMachine.Failed) => TaskStatuses.Failed,
        nameof(TaskStateMachine.Canceling) => TaskStatuses.Canceling,
        nameof(TaskStateMachine.Canceled) => TaskStatuses.Canceled,
        _ => TaskStatuses.Pending,
    };

    public void Begin(TaskState saga, SubmitTask message, Guid? requestId, Uri? responseAddress)
    {
        saga.TenantId = message.TenantId;
        saga.Action = message.Action;
        saga.Target = message.Target;
        saga.Data = message.Data;
        saga.SubmittedBy = message.SubmittedBy;
        saga.SubmittedByAdmin = message.SubmittedByAdmin;
        saga.RetryOf = message.RetryOf;
        saga.ExcludedAgents = [.. message.ExcludedAgents ?? []];
        saga.CreatedAt = Now;
        saga.RequestId = requestId;
        saga.ResponseAddress = responseAddress;
        saga.SubmissionRequestId = message.SubmissionRequestId;
        saga.TraceParent = TaskTrace.TraceParentOf(System.Diagnostics.Activity.Current);
        TaskTrace.Mark(System.Diagnostics.Activity.Current, saga.CorrelationId, saga.TenantId, saga.SubmissionRequestId);
    }

    /// <summary>
    /// A retry tells the task it retries, once it is stored (whatever its outcome: a refused retry is the newest task of the chain
    /// too); that task's saga records it (<see cref="MarkRetried"/>). A notice lost here leaves the retried task without its link,
    /// so retryable again; it never points at a task that does not exist.
    /// </summary>
    public void AnnounceRetry(TaskState saga)
    {
        if (saga.RetryOf is not { } retried)
            return;
        var notice = new TaskRetried(retried, saga.CorrelationId);
        transactions.AfterCommit(async () =>
        {
            try
            {
                await Bus.Publish(notice);
            }
            catch (Exception ex)
            {
                logger.LogWarning("Task {TaskId}: task {Retried}, which it retries, could not be told ({Message})", saga.CorrelationId, retried, ex.Message);
            }
        });
    }

    /// <summary>The first retry of a failed or canceled task is its retry; a second one (two retries sent at once) only names this task.</summary>
    public void MarkRetried(TaskState saga, TaskRetried retried)
    {
        if (saga.RetriedBy is { } first)
        {
            if (first != retried.RetryId)
                logger.LogWarning("Task {TaskId} was retried by {First}; {Second}, sent at the same time, retries it too", saga.CorrelationId, first, retried.RetryId);
            return;
        }
        saga.RetriedBy = retried.RetryId;
        saga.UpdatedAt = Now;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, $"retried by task {retried.RetryId}"));
    }

    /// <summary>Runs before the saga enters <paramref name="to"/> (its CurrentState is still the old one).</summary>
    public async Task OnEnteringAsync(BehaviorContext<TaskState> context, string to)
    {
        var saga = context.Saga;
        var from = saga.CurrentState is "Initial" ? null : saga.CurrentState;
        var now = Now;
        transitionMetrics.OnEntering(saga, to, now);
        saga.Status = StatusOf(to, saga.Status);
        saga.UpdatedAt = now;
        saga.DeadlineAt = to == nameof(TaskStateMachine.Canceling) ? CancelingDeadline(saga, now)
            : options.Value.Deadlines.For(to) is { } deadline ? now + deadline : null;
        saga.Timeline.Add(new TimelineEntry(to, saga.Status, now, saga.Error?.Code));

        // Only a step's refusal is a rejection (4xx); anything that fails later was accepted and then failed.
        if (to == nameof(TaskStateMachine.Failed) && saga.Rejected)
            await AnswerRejectedAsync(context);
        else if (to is nameof(TaskStateMachine.Failed) or nameof(TaskStateMachine.AwaitingResult) or nameof(TaskStateMachine.Succeeded)
            or nameof(TaskStateMachine.Canceled))
            await AnswerAcceptedAsync(context, to);

        await PublishAsync(new TaskStateChanged(saga.CorrelationId, saga.TenantId, saga.Action, from, to, saga.Status, now, saga.Error?.Code));
    }

    /// <summary>
    /// How long a task waits in Canceling for its agent's answer: until the task's result deadline, or, for a task its agent has not
    /// started, until its pickup window closes (the agent never starts it after that, so nothing will run).
    /// </summary>
    private DateTimeOffset CancelingDeadline(TaskState saga, DateTimeOffset now)
    {
        var deadline = saga.DeadlineAt ?? now + options.Value.Deadlines.AwaitingResult;
        return saga.StartedAt is null && saga.PickupBy is { } pickupBy && pickupBy < deadline ? pickupBy : deadline;
    }

    /// <summary>A line in the task's timeline at its current state and status (tenants read it too: no agent or host names).</summary>
    public void AddNote(TaskState saga, string note)
    {
        saga.UpdatedAt = Now;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, note));
    }

    /// <summary>
    /// Records a transition in the event log, in the message's transaction, and publishes it on the bus once that transaction has
    /// committed (never one that was rolled back), in order.
    /// </summary>
    public async Task PublishAsync(TaskStateChanged change, CancellationToken cancellationToken = default)
    {
        await eventLog.AppendAsync(change, cancellationToken);
        transactions.AfterCommit(async () =>
        {
            eventSignal.Pulse();
            try
            {
                await events.PublishAsync(change);
            }
            catch (Exception ex)
            {
                // The transition and its log entry are stored; only the broker's copy is lost (the log's readers still get it).
                logger.LogWarning("Task {TaskId}: the event of its move to {State} ({Status}) could not be published ({Message})", change.TaskId, change.To, change.Status, ex.Message);
            }
        });
    }

    public async Task MarkRunningAsync(BehaviorContext<TaskState, AgentTaskStarted> context)
    {
        var saga = context.Saga;
        saga.StartedAt ??= context.Message.StartedAt;
        // The agent has the task: the outbox need not send it again.
        await outbox.RemoveAsync(saga.CorrelationId, context.CancellationToken);
        if (saga.CurrentState != nameof(TaskStateMachine.AwaitingResult) || saga.Status == TaskStatuses.Running)
            return;
        saga.Status = TaskStatuses.Running;
        saga.UpdatedAt = Now;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt));
        await PublishAsync(new TaskStateChanged(saga.CorrelationId, saga.TenantId, saga.Action, saga.CurrentState, saga.CurrentState, saga.Status, saga.UpdatedAt, null),
            context.CancellationToken);
    }

    public static void AddProgress(TaskState saga, AgentTaskProgress progress)
    {
        saga.Progress.Add(new ProgressEntry(progress.Message.Length > 500 ? progress.Message[..500] : progress.Message, progress.At));
        if (saga.Progress.Count > MaxProgressEntries)
            saga.Progress.RemoveRange(0, saga.Progress.Count - MaxProgressEntries);
    }

    /// <summary>Fails a task: records the error and gives back everything its steps took (hold, placement, lock, name, outbox).</summary>
    public async Task FailAsync(TaskState saga, string code, string message, JsonElement? details, CancellationToken cancellationToken, bool fromAgent = false)
    {
        saga.Error = new TaskError(code, message, details, fromAgent);
        saga.FinishedAt ??= Now;
        await pipeline.UndoAllAsync(saga, cancellationToken);
    }

    /// <summary>Cancels a task: records why and gives back everything its steps took, as a failure does.</summary>
    public Task CancelAsync(TaskState saga, string message, JsonElement? details, CancellationToken cancellationToken)
        => FailAsync(saga, ErrorCodes.Canceled, message, details, cancellationToken);

    /// <summary>The agent's failure (an <c>ERR_CANCELED</c> too): its error recorded, everything the task held given back.</summary>
    public Task AgentFailedAsync(TaskState saga, AgentTaskResult result, CancellationToken cancellationToken)
    {
        saga.AgentReported = true;
        saga.StartedAt ??= result.StartedAt;
        return FailAsync(saga, result.Error?.Code ?? ErrorCodes.ScriptFailed, result.Error?.Message ?? "The agent reported a failure without an error.",
            result.Error?.Details, cancellationToken, fromAgent: true);
    }

    /// <summary>Settles an agent's success: the steps' settlements (quota committed, placement and lock let go) and the action's links.</summary>
    public async Task SucceedAsync(TaskState saga, AgentTaskResult result, bool late, CancellationToken cancellationToken)
    {
        saga.AgentReported = true;
        saga.Result = result.Result;
        saga.StartedAt ??= result.StartedAt;
        saga.FinishedAt = result.FinishedAt;
        if (late)
            saga.LateSuccess = true;

        await pipeline.SettleAllAsync(saga, cancellationToken);
        if (actions.TryGet(saga.Action, out var action))
        {
            try
            {
                await action.OnSucceededAsync(new SuccessContext(saga, result, late, resources, agents, Now), cancellationToken);
            }
            catch (InvalidOperationException ex)
            {
                logger.LogError(ex, "Task {TaskId}: the success of {Action} could not be recorded", saga.CorrelationId, saga.Action);
            }
        }

        if (late)
        {
            saga.UpdatedAt = Now;
            saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, "late success: quota charged, resource linked"));
            logger.LogWarning("Task {TaskId} succeeded on agent {AgentId} after it had failed ({Code}); charged (over limit: {OverLimit}) and linked",
                saga.CorrelationId, result.AgentId, saga.Error?.Code, saga.QuotaOverLimit);
        }
    }

    // The waiting API request is answered first after the commit, before the task's events and its agent's task go out.
    private Task AnswerAcceptedAsync(BehaviorContext<TaskState> context, string to)
    {
        var saga = context.Saga;
        return AnswerAsync(saga, new TaskAccepted(saga.CorrelationId, saga.Status, to, saga.AgentId));
    }

    /// <summary>Answers a cancel request after the commit with the task's status as the transition left it.</summary>
    public void AnswerCancel(BehaviorContext<TaskState, CancelTask> context, bool alreadyFinal)
    {
        var saga = context.Saga;
        if (context.ResponseAddress is not { } address)
            return;
        var answer = new TaskCancelAnswered(saga.CorrelationId, saga.Status, saga.CurrentState, alreadyFinal);
        var requestId = context.RequestId;
        transactions.AfterCommit(() => SendAnswerAsync(saga.CorrelationId, address, requestId, answer), AfterCommitStage.Answer);
    }

    private Task AnswerRejectedAsync(BehaviorContext<TaskState> context)
    {
        var saga = context.Saga;
        var error = saga.Error ?? new TaskError(ErrorCodes.Internal, "The task failed.");
        return AnswerAsync(saga, new TaskRejected(saga.CorrelationId, error.Code, error.Message, error.Details));
    }

    private Task AnswerAsync<T>(TaskState saga, T answer) where T : class
    {
        if (saga.Answered || saga.ResponseAddress is not { } address)
            return Task.CompletedTask;
        var requestId = saga.RequestId;
        transactions.AfterCommit(() => SendAnswerAsync(saga.CorrelationId, address, requestId, answer), AfterCommitStage.Answer);
        saga.Answered = true;
        return Task.CompletedTask;
    }

    private async Task SendAnswerAsync<T>(Guid taskId, Uri address, Guid? requestId, T answer) where T : class
    {
        try
        {
            var endpoint = await Bus.GetSendEndpoint(address);
            await endpoint.Send(answer, send => send.RequestId = requestId);
        }
        catch (Exception ex)
        {
            // The task is stored; the caller's wait ends with its status instead (TaskSubmission, TaskCancellation).
            logger.LogWarning("Task {TaskId}: the answer to its caller could not be sent ({Message})", taskId, ex.Message);
        }
    }

    // Resolved when first used: the bus is built from the saga, which answers through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);
}
