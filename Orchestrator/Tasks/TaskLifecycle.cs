using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// What the task saga does on its transitions: the timeline, deadlines and status, the answer to
/// the waiting API request, TaskStateChanged, and the settlement of quota, placement and names.
/// Every settlement is idempotent, because a saga step may run again after a concurrency retry.
/// </summary>
public sealed class TaskLifecycle(
    IQuotaStore quotas,
    IAgentStore agents,
    IResourceStore resources,
    TaskActionCatalog actions,
    TimeProvider clock,
    IOptions<OrchestratorOptions> options,
    ILogger<TaskLifecycle> logger)
{
    public DateTimeOffset Now => clock.GetUtcNow();

    public static string StatusOf(string state, string currentStatus) => state switch
    {
        nameof(TaskStateMachine.AwaitingResult) => currentStatus == TaskStatuses.Running ? TaskStatuses.Running : TaskStatuses.Sent,
        nameof(TaskStateMachine.Succeeded) => TaskStatuses.Succeeded,
        nameof(TaskStateMachine.Failed) => TaskStatuses.Failed,
        _ => TaskStatuses.Pending,
    };

    /// <summary>Runs before the saga enters <paramref name="to"/> (its CurrentState is still the old one).</summary>
    public async Task OnEnteringAsync(BehaviorContext<TaskState> context, string to)
    {
        var saga = context.Saga;
        var from = saga.CurrentState is "Initial" ? null : saga.CurrentState;
        var now = Now;
        saga.Status = StatusOf(to, saga.Status);
        saga.UpdatedAt = now;
        saga.DeadlineAt = options.Value.Deadlines.For(to) is { } deadline ? now + deadline : null;
        saga.Timeline.Add(new TimelineEntry(to, saga.Status, now, saga.Error?.Code));

        // Only a step's refusal is a rejection (4xx); anything that fails later was accepted and then failed.
        if (to == nameof(TaskStateMachine.Failed) && saga.Rejected)
            await AnswerRejectedAsync(context);
        else if (to == nameof(TaskStateMachine.Failed))
            await AnswerAcceptedAsync(context, to);
        else if (to is nameof(TaskStateMachine.AwaitingResult) or nameof(TaskStateMachine.Succeeded))
            await AnswerAcceptedAsync(context, to);

        await context.Publish(new TaskStateChanged(saga.CorrelationId, saga.TenantId, saga.Action, from, to, saga.Status, now, saga.Error?.Code));
    }

    public async Task MarkRunningAsync(BehaviorContext<TaskState, AgentTaskStarted> context)
    {
        var saga = context.Saga;
        saga.StartedAt ??= context.Message.StartedAt;
        if (saga.CurrentState != nameof(TaskStateMachine.AwaitingResult) || saga.Status == TaskStatuses.Running)
            return;
        saga.Status = TaskStatuses.Running;
        saga.UpdatedAt = Now;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt));
        await context.Publish(new TaskStateChanged(saga.CorrelationId, saga.TenantId, saga.Action, saga.CurrentState, saga.CurrentState, saga.Status, saga.UpdatedAt, null));
    }

    public const int MaxProgressEntries = 200;

    public void MarkRedriven(BehaviorContext<TaskState, TaskStepStalled> context)
    {
        var saga = context.Saga;
        saga.UpdatedAt = Now;
        saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, "step sent again after a stall"));
        logger.LogWarning("Task {TaskId} stalled in {State}; its step is sent again", saga.CorrelationId, saga.CurrentState);
    }

    public static void AddProgress(TaskState saga, AgentTaskProgress progress)
    {
        saga.Progress.Add(new ProgressEntry(progress.Message.Length > 500 ? progress.Message[..500] : progress.Message, progress.At));
        if (saga.Progress.Count > MaxProgressEntries)
            saga.Progress.RemoveRange(0, saga.Progress.Count - MaxProgressEntries);
    }

    /// <summary>Settles a failed task: releases the quota hold, the placement and a reserved name.</summary>
    public async Task FailAsync(TaskState saga, string code, string message, JsonElement? details, CancellationToken cancellationToken, bool fromAgent = false)
    {
        saga.Error = new TaskError(code, message, details, fromAgent);
        saga.FinishedAt ??= Now;
        // Unconditionally: the hold may exist although its answer has not reached the saga yet.
        await quotas.ReleaseAsync(saga.CorrelationId, cancellationToken);
        if (saga.QuotaHold == QuotaHoldStatuses.Held)
            saga.QuotaHold = QuotaHoldStatuses.Released;
        await agents.ReleasePlacementAsync(saga.CorrelationId, cancellationToken);
        await resources.UnlockAsync(saga.CorrelationId, cancellationToken);
        if (actions.TryGet(saga.Action, out var action) && action.ClaimedName(saga.Data) is { } name)
            await resources.ReleaseNameAsync(saga.TenantId, name, saga.CorrelationId, cancellationToken);
    }

    /// <summary>Releases what a step that answered after the task ended reserved: a hold, a placement, a VM lock, a name.</summary>
    public async Task SettleStragglerAsync(TaskState saga, CancellationToken cancellationToken)
    {
        if (saga.QuotaHold != QuotaHoldStatuses.Committed)
            await quotas.ReleaseAsync(saga.CorrelationId, cancellationToken);
        await agents.ReleasePlacementAsync(saga.CorrelationId, cancellationToken);
        await resources.UnlockAsync(saga.CorrelationId, cancellationToken);
        if (saga.CurrentState == nameof(TaskStateMachine.Failed) && !saga.LateSuccess
            && actions.TryGet(saga.Action, out var action) && action.ClaimedName(saga.Data) is { } name)
            await resources.ReleaseNameAsync(saga.TenantId, name, saga.CorrelationId, cancellationToken);
        logger.LogInformation("Task {TaskId}: a step answered after the task ended; its reservations were released", saga.CorrelationId);
    }

    /// <summary>Settles an agent's success: commits the quota and links what the agent built.</summary>
    public async Task SucceedAsync(TaskState saga, AgentTaskResult result, bool late, CancellationToken cancellationToken)
    {
        saga.AgentReported = true;
        saga.Result = result.Result;
        saga.StartedAt ??= result.StartedAt;
        saga.FinishedAt = result.FinishedAt;

        if (saga.QuotaDeltas is { } deltas)
        {
            var commit = await quotas.CommitAsync(saga.CorrelationId, saga.TenantId, deltas, cancellationToken);
            saga.QuotaHold = QuotaHoldStatuses.Committed;
            saga.QuotaOverLimit = commit.OverLimit;
            saga.QuotaHoldLapsed = commit.HoldLapsed;
            if (commit.HoldLapsed)
                logger.LogWarning("Task {TaskId}: its quota hold had lapsed; charged at commit (over limit: {OverLimit})", saga.CorrelationId, commit.OverLimit);
        }
        await agents.ReleasePlacementAsync(saga.CorrelationId, cancellationToken);

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
        await resources.UnlockAsync(saga.CorrelationId, cancellationToken);

        if (late)
        {
            saga.LateSuccess = true;
            saga.UpdatedAt = Now;
            saga.Timeline.Add(new TimelineEntry(saga.CurrentState, saga.Status, saga.UpdatedAt, "late success: quota charged, resource linked"));
            logger.LogWarning("Task {TaskId} succeeded on agent {AgentId} after it had failed ({Code}); charged (over limit: {OverLimit}) and linked",
                saga.CorrelationId, result.AgentId, saga.Error?.Code, saga.QuotaOverLimit);
        }
    }

    private static async Task AnswerAcceptedAsync(BehaviorContext<TaskState> context, string to)
    {
        var saga = context.Saga;
        if (saga.Answered || saga.ResponseAddress is null)
            return;
        var endpoint = await context.GetSendEndpoint(saga.ResponseAddress);
        await endpoint.Send(new TaskAccepted(saga.CorrelationId, saga.Status, to, saga.AgentId), send => send.RequestId = saga.RequestId);
        saga.Answered = true;
    }

    private static async Task AnswerRejectedAsync(BehaviorContext<TaskState> context)
    {
        var saga = context.Saga;
        if (saga.Answered || saga.ResponseAddress is null)
            return;
        var error = saga.Error ?? new TaskError(ErrorCodes.Internal, "The task failed.");
        var endpoint = await context.GetSendEndpoint(saga.ResponseAddress);
        await endpoint.Send(new TaskRejected(saga.CorrelationId, error.Code, error.Message, error.Details), send => send.RequestId = saga.RequestId);
        saga.Answered = true;
    }
}
