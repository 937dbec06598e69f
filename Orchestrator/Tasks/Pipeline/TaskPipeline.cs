using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// The steps a task goes through before it waits for its agent, in order. The saga runs them in one transition and one store
/// transaction; a refusal (or an unexpected exception) at any step undoes, in reverse order, what the steps before it took,
/// in that same transaction, so nobody ever sees capacity, quota or a name taken by a refused task.
/// </summary>
public sealed class TaskPipeline(ValidateStep validate, ElectStep elect, EnrichStep enrich, HoldQuotaStep holdQuota, DispatchStep dispatch,
    ILogger<TaskPipeline> logger)
{
    /// <summary>The single list of steps: adding a step is a class and an entry here.</summary>
    public IReadOnlyList<ITaskStep> Steps { get; } = [validate, elect, enrich, holdQuota, dispatch];

    /// <summary>Runs the steps; <paramref name="enter"/> records each step's state first. Returns the refusal, or null once dispatched.</summary>
    public async Task<TaskError?> RunAsync(TaskState task, ITaskAction action, Func<string, Task> enter, CancellationToken cancellationToken)
    {
        var context = new TaskStepContext(task, action, cancellationToken);
        for (var i = 0; i < Steps.Count; i++)
        {
            var step = Steps[i];
            await enter(step.State);
            try
            {
                await step.RunAsync(context);
            }
            catch (TaskRejectedException rejection)
            {
                await UndoAsync(task, i, cancellationToken);
                return new TaskError(rejection.Code, rejection.Message,
                    rejection.Details is null ? null : JsonSerializer.SerializeToElement(rejection.Details, JsonSerializerOptions.Web));
            }
            catch (Exception ex) when (!IsStorageOrShutdown(ex, cancellationToken))
            {
                logger.LogError(ex, "Task {TaskId}: step {State} failed unexpectedly; the task is refused", task.CorrelationId, step.State);
                await UndoAsync(task, i, cancellationToken);
                return new TaskError(ErrorCodes.StepFailed, $"The task could not be prepared: step {step.State} failed unexpectedly, and nothing it took was kept.",
                    JsonSerializer.SerializeToElement(new { step = step.State, exception = ex.GetType().Name, ex.Message }, JsonSerializerOptions.Web));
            }
        }
        return null;
    }

    /// <summary>Gives back what every step took (a failed task), last step first.</summary>
    public Task UndoAllAsync(TaskState task, CancellationToken cancellationToken) => UndoAsync(task, Steps.Count - 1, cancellationToken);

    /// <summary>Turns what every step took into its lasting form (a task its agent completed).</summary>
    public async Task SettleAllAsync(TaskState task, CancellationToken cancellationToken)
    {
        foreach (var step in Steps.Reverse())
            await step.SettleAsync(task, cancellationToken);
    }

    private async Task UndoAsync(TaskState task, int last, CancellationToken cancellationToken)
    {
        for (var i = last; i >= 0; i--)
            await Steps[i].UndoAsync(task, cancellationToken);
    }

    // Storage failures and shutdown are not the task's fault: the whole message is retried, its transaction rolled back.
    private static bool IsStorageOrShutdown(Exception ex, CancellationToken cancellationToken)
        => StorageFaults.IsStorageFailure(ex) || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested);
}
