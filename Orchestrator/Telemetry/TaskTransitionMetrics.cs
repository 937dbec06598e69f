using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Telemetry;

/// <summary>
/// Counts a task's transitions (<see cref="TaskLifecycle.OnEnteringAsync"/>, the one place the saga changes state) into
/// <see cref="OrchestratorMetrics"/>, and logs its outcome: submitted when it leaves Initial, the time spent in the state it leaves,
/// finished (and one log line) when it first reaches a final status. All of it after the message's transaction commits, so a message
/// rolled back and retried counts once. A success an agent reports after the task failed or was canceled changes no state: the task
/// was counted finished once, with the status it first ended with.
/// </summary>
public sealed partial class TaskTransitionMetrics(OrchestratorMetrics metrics, IStoreTransactions transactions, TaskActionCatalog actions,
    ILogger<TaskTransitionMetrics> logger)
{
    /// <summary>The action tag of a name the catalog does not know (a refused submission): the tag's values stay the catalog's.</summary>
    public const string UnknownAction = "unknown";

    /// <summary>The error code of the outcome line of a task that ended without an error.</summary>
    public const string NoError = "none";

    /// <summary>Call before the saga's state, status and timeline change (the timeline still ends in the state it leaves).</summary>
    public void OnEntering(TaskState saga, string to, DateTimeOffset now)
    {
        var from = saga.CurrentState is "Initial" ? null : saga.CurrentState;
        var action = actions.TryGet(saga.Action, out _) ? saga.Action : UnknownAction;
        var status = TaskLifecycle.StatusOf(to, saga.Status);
        TimeSpan? spent = from is not null && EnteredAt(saga.Timeline, from) is { } enteredAt ? now - enteredAt : null;
        var finished = TaskStatuses.IsFinal(status) && !TaskStatuses.IsFinal(saga.Status);
        var outcome = finished ? new Outcome(saga.CorrelationId, saga.TenantId, status, saga.Error?.Code, now - saga.CreatedAt) : null;

        transactions.AfterCommit(() =>
        {
            if (from is null)
                metrics.TaskSubmitted(action);
            else if (spent is { } time)
                metrics.StateLeft(from, action, time);
            if (outcome is not null)
            {
                metrics.TaskFinished(action, outcome.Status);
                LogOutcome(outcome, action);
            }
            return Task.CompletedTask;
        });
    }

    /// <summary>When the task entered <paramref name="state"/>: the first of the timeline's last entries in it (notes at that state follow its entry).</summary>
    private static DateTimeOffset? EnteredAt(List<TimelineEntry> timeline, string state)
    {
        DateTimeOffset? at = null;
        for (var i = timeline.Count - 1; i >= 0 && timeline[i].State == state; i--)
            at = timeline[i].At;
        return at;
    }

    private void LogOutcome(Outcome outcome, string action)
    {
        var seconds = Math.Round(outcome.Duration.TotalSeconds, 3);
        var code = outcome.ErrorCode ?? NoError;
        if (outcome.Status == TaskStatuses.Failed)
            LogFailed(outcome.TaskId, action, outcome.TenantId, outcome.Status, code, seconds);
        else
            LogEnded(outcome.TaskId, action, outcome.TenantId, outcome.Status, code, seconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskId} ({Action}, tenant {TenantId}) ended {Status} (error {ErrorCode}) {DurationSeconds} s after its creation")]
    private partial void LogEnded(Guid taskId, string action, string tenantId, string status, string errorCode, double durationSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskId} ({Action}, tenant {TenantId}) ended {Status} (error {ErrorCode}) {DurationSeconds} s after its creation")]
    private partial void LogFailed(Guid taskId, string action, string tenantId, string status, string errorCode, double durationSeconds);

    private sealed record Outcome(Guid TaskId, string TenantId, string Status, string? ErrorCode, TimeSpan Duration);
}
