using System.Diagnostics;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;
using OpenHvx.HyperVAgent.Telemetry;
using Polly;
using Polly.Retry;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Runs one task: at most once per task id (journal: 'waiting' until it holds its VM, 'running' right
/// before its script starts, then 'done' with its result), structured errors. The result is stored in the
/// journal before it is published, so a failed publish loses nothing (<see cref="ResultRetryService"/>).
/// A task past its <see cref="AgentTask.NotAfter"/> is not started: it is answered <c>ERR_EXPIRED</c>. A task the orchestrator cancels
/// (<see cref="AgentTaskCancelConsumer"/>) is not started if it has not been, or has its script stopped and what it built removed; either
/// way it is answered <c>ERR_CANCELED</c>, and recorded done so that it never runs.
/// </summary>
public sealed class AgentTaskConsumer(
    IAgentWire wire,
    ResultSender results,
    ActionScripts scripts,
    PowerShellRunner runner,
    TaskCleanup cleanups,
    TaskJournal journal,
    VmLocks locks,
    RunningTasks running,
    AgentShutdown shutdown,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<AgentTaskConsumer> logger) : IConsumer<AgentTask>
{
    public async Task Consume(ConsumeContext<AgentTask> context)
    {
        // A task of the original OpenHVX controller, in our terms (one of ours comes back unchanged).
        var task = OriginalControllerData.Normalize(context.Message);
        // In the trace the orchestrator's W3C headers name (a sender other than MassTransit sends only those).
        using var activity = TaskTrace.StartHandling(AgentDiagnostics.Source, "agent task " + task.Action, ActivityKind.Consumer,
            context.Headers.Get<string>(TaskTrace.TraceParentHeader));
        TaskTrace.Mark(activity ?? Activity.Current, task.TaskId, task.TenantId, TaskTrace.RequestIdIn(context.Headers.Get<string>(TaskTrace.BaggageHeader)));
        if (!await running.EnterAsync(task.TaskId, task.Attempt, context.CancellationToken))
        {
            logger.LogInformation("Task {TaskId} (attempt {Attempt}) is already being handled here; the duplicate delivery is dropped", task.TaskId, task.Attempt);
            return;
        }
        try
        {
            await ConsumeOnceAsync(context, task, running.CancellationOf(task.TaskId));
        }
        finally
        {
            running.Leave(task.TaskId);
        }
    }

    /// <param name="canceled">signalled when the orchestrator cancels the task</param>
    private async Task ConsumeOnceAsync(ConsumeContext<AgentTask> context, AgentTask task, CancellationToken canceled)
    {
        var agentId = options.Value.AgentId;
        var (state, stored) = journal.Begin(task.TaskId, task.Action, clock.GetUtcNow());
        switch (state)
        {
            case JournalEntryState.Finished:
                await RepublishAsync(context, task, stored!);
                return;
            case JournalEntryState.Begun or JournalEntryState.NeverStarted when IsExpired(task):
                await AnswerExpiredAsync(context, task);
                return;
            case JournalEntryState.NeverStarted:
                logger.LogInformation("Task {TaskId} was accepted but had not started when the agent stopped; it runs now", task.TaskId);
                break;
            case JournalEntryState.WasRunning:
                logger.LogWarning("Task {TaskId} was running when the agent stopped; it is not run twice", task.TaskId);
                var cleanup = await cleanups.RunAsync(task, "interrupted");
                await FinishAsync(context, Result(task, null, ScriptOutcome.Failure(ErrorCodes.Interrupted,
                    "The agent stopped while this task was running; it was not run again" + (cleanup is null ? "." : " and what it had built was removed."),
                    cleanup is null ? null : new { cleanup })));
                return;
        }

        if (task.AgentId != agentId)
        {
            await FinishAsync(context, Result(task, null, ScriptOutcome.Failure(ErrorCodes.WrongAgent, $"Task addressed to agent '{task.AgentId}' reached agent '{agentId}'.")));
            return;
        }
        if (!scripts.TryGetScript(task.Action, out var script))
        {
            await FinishAsync(context, Result(task, null, ScriptOutcome.Failure(ErrorCodes.UnsupportedAction, $"This agent has no script for '{task.Action}'.")));
            return;
        }
        if (OriginalControllerData.Refusal(task) is { } refusal)
        {
            await FinishAsync(context, Result(task, null, new ScriptOutcome(false, null, refusal)));
            return;
        }

        ScriptOutcome? outcome = null;
        DateTimeOffset? startedAt = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown.GraceOver, canceled);
        try
        {
            using var vmLock = await locks.AcquireAsync(LockKey(task), stop.Token);
            if (IsExpired(task))
            {
                await AnswerExpiredAsync(context, task);
                return;
            }
            // Canceled before it could start (waiting behind other tasks, or for its VM): it never starts.
            canceled.ThrowIfCancellationRequested();
            var now = clock.GetUtcNow();
            // A task with a start deadline may go to another agent unless the orchestrator hears in time that it started here:
            // it starts only once the broker has confirmed 'started'. If that fails it stays 'waiting' and does not run.
            if (task.NotAfter is not null && !await AnnounceStartedAsync(context, new AgentTaskStarted(task.TaskId, agentId, now), required: true))
                return;
            // 'running' only now, right before the script: an agent killed while the task waited for
            // its VM leaves it 'waiting', and its redelivery runs it instead of reporting it interrupted.
            if (journal.TryStart(task.TaskId, now))
            {
                startedAt = now;
                if (task.NotAfter is null)
                    await AnnounceStartedAsync(context, new AgentTaskStarted(task.TaskId, agentId, now), required: false);
                outcome = await RunWithRetryAsync(script, task, stop.Token);
            }
        }
        catch (OperationCanceledException) when (canceled.IsCancellationRequested && startedAt is null)
        {
            logger.LogInformation("Task {TaskId} was canceled before it started; it is not run", task.TaskId);
            await FinishAsync(context, Result(task, null, ScriptOutcome.Failure(ErrorCodes.Canceled, "The task was canceled before it started; it was not run.")));
            return;
        }
        catch (OperationCanceledException) when (canceled.IsCancellationRequested)
        {
            outcome = ScriptOutcome.Failure(ErrorCodes.Canceled, "The task was canceled while it ran.");
        }
        catch (OperationCanceledException) when (shutdown.GraceOver.IsCancellationRequested)
        {
            outcome = ScriptOutcome.Failure(ErrorCodes.Interrupted, "The agent stopped before this task could run.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Task {TaskId} ({Action}) could not be run", task.TaskId, task.Action);
            outcome = ScriptOutcome.Failure(ErrorCodes.ScriptFailed, ex.Message);
        }
        if (outcome is null)
        {
            // Someone else on this journal (another agent process on the same data folder) started or finished it meanwhile.
            if (journal.Find(task.TaskId) is { State: JournalEntryState.Finished, Result: { } result })
                await RepublishAsync(context, task, result);
            else
                logger.LogWarning("Task {TaskId} was started by another agent on this journal while this delivery waited; this delivery is dropped", task.TaskId);
            return;
        }
        // A script that finished before the cancel reached it keeps its outcome (a success is the task's); one stopped by it is canceled.
        if (canceled.IsCancellationRequested && startedAt is not null && !outcome.Ok)
            outcome = await CanceledWhileRunningAsync(task);
        logger.LogInformation("Task {TaskId} ({Action}) finished: {Outcome}", task.TaskId, task.Action, outcome.Ok ? "ok" : outcome.Error!.Code);
        await FinishAsync(context, Result(task, startedAt, outcome));
    }

    private async Task RepublishAsync(ConsumeContext context, AgentTask task, string stored)
    {
        logger.LogInformation("Task {TaskId} was already run; republishing its result", task.TaskId);
        await results.SendStoredAsync(stored, context.CancellationToken);
    }

    private bool IsExpired(AgentTask task) => task.NotAfter is { } notAfter && clock.GetUtcNow() > notAfter;

    /// <summary>
    /// Answers ERR_EXPIRED without running the task and without a journal entry of it being done: the orchestrator may have
    /// given it to another agent, and a later attempt of it sent here must still run.
    /// </summary>
    private async Task AnswerExpiredAsync(ConsumeContext context, AgentTask task)
    {
        logger.LogWarning("Task {TaskId} (attempt {Attempt}) was not started: its start deadline {NotAfter:o} has passed", task.TaskId, task.Attempt, task.NotAfter);
        var result = Result(task, null, ScriptOutcome.Failure(ErrorCodes.Expired,
            $"The task was not started: its start deadline ({task.NotAfter:o}) had passed when this agent could start it."));
        try
        {
            await wire.ResultAsync(result, context.CancellationToken);
        }
        catch (Exception ex)
        {
            // Not kept for a retry: the task was not run, and the orchestrator's own deadline covers a lost answer.
            logger.LogWarning(ex, "The ERR_EXPIRED answer of task {TaskId} could not be published", task.TaskId);
        }
    }

    /// <summary>
    /// Tells the orchestrator the task starts. Best effort for a task without a start deadline (it runs whether or not the
    /// orchestrator hears it); <paramref name="required"/> for one with a deadline, which does not start unless this succeeded.
    /// </summary>
    private async Task<bool> AnnounceStartedAsync(ConsumeContext context, AgentTaskStarted started, bool required)
    {
        try
        {
            await wire.StartedAsync(started, context.CancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (required)
                logger.LogWarning(ex, "Task {TaskId}: its 'started' message could not be published; it is not started (the orchestrator may give it to another agent)",
                    started.TaskId);
            else
                logger.LogWarning(ex, "Task {TaskId}: its 'started' message could not be published; it runs anyway", started.TaskId);
            return false;
        }
    }

    /// <summary>The script was stopped by a cancel: what the task had built is removed (the action's cleanup), and the task is canceled.</summary>
    private async Task<ScriptOutcome> CanceledWhileRunningAsync(AgentTask task)
    {
        logger.LogInformation("Task {TaskId} was canceled while it ran; its script was stopped", task.TaskId);
        var cleanup = await cleanups.RunAsync(task, "canceled");
        return ScriptOutcome.Failure(ErrorCodes.Canceled,
            "The task was canceled while it ran: its script was stopped" + (cleanup is null ? "." : " and what it had built was removed."),
            cleanup is null ? null : new { cleanup });
    }

    /// <summary>A task on an existing VM locks its id; a create locks the tenant's name for it.</summary>
    internal static string LockKey(AgentTask task)
    {
        if (task.Target?.RefId is { Length: > 0 } refId)
            return "vm:" + refId;
        if (task.Data.ValueKind == JsonValueKind.Object && task.Data.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            return $"name:{task.TenantId}/{name.GetString()}";
        return "task:" + task.TaskId;
    }

    /// <summary>Runs the script, again after a transient failure (host busy, file in use), all within the action's timeout.</summary>
    private async Task<ScriptOutcome> RunWithRetryAsync(string script, AgentTask task, CancellationToken stop)
    {
        var agent = options.Value;
        var parameters = scripts.BuildParameters(script, task);
        var deadline = clock.GetUtcNow() + agent.TimeoutFor(task.Action);
        var transient = agent.TransientErrorCodes.ToHashSet(StringComparer.Ordinal);
        var pipeline = new ResiliencePipelineBuilder<ScriptOutcome>()
            .AddRetry(new RetryStrategyOptions<ScriptOutcome>
            {
                MaxRetryAttempts = Math.Max(1, agent.TransientRetries),
                Delay = agent.TransientRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder<ScriptOutcome>().HandleResult(o =>
                    !o.Ok && o.Error is { } error && (transient.Contains(error.Code) || error.Message.Contains("being used by another process", StringComparison.OrdinalIgnoreCase))
                    && clock.GetUtcNow() < deadline),
                OnRetry = args =>
                {
                    logger.LogWarning("Task {TaskId}: transient failure {Code} ({Message}); retry {Attempt}", task.TaskId,
                        args.Outcome.Result?.Error?.Code, args.Outcome.Result?.Error?.Message, args.AttemptNumber + 1);
                    return default;
                },
            })
            .Build();
        return await pipeline.ExecuteAsync(async token =>
        {
            var remaining = deadline - clock.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
                return ScriptOutcome.Failure(ErrorCodes.Timeout, "The action's timeout passed before another try.");
            return await runner.RunAsync(script, parameters, remaining, token);
        }, stop);
    }

    private AgentTaskResult Result(AgentTask task, DateTimeOffset? startedAt, ScriptOutcome outcome)
        => new(task.TaskId, options.Value.AgentId, outcome.Ok, outcome.Output, outcome.Error, startedAt, clock.GetUtcNow(), task.Attempt);

    /// <summary>The result is in the journal before it is published; a failed publish is retried from there, so the delivery is acknowledged either way.</summary>
    private Task FinishAsync(ConsumeContext context, AgentTaskResult result) => results.StoreAndSendAsync(result, context.CancellationToken);
}
