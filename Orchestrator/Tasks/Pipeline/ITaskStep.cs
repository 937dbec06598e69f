namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// One step of the task pipeline (<see cref="TaskPipeline.Steps"/>): the state the task is in while it runs, its work and
/// refusals (<see cref="Actions.TaskRejectedException"/> with the API's code), and what it does with what it took when the
/// task fails (<see cref="UndoAsync"/>) or succeeds (<see cref="SettleAsync"/>). Every part is idempotent per task.
/// </summary>
public interface ITaskStep
{
    /// <summary>The saga state while the step runs: its name in the timeline and on <c>task.events</c>.</summary>
    string State { get; }

    Task RunAsync(TaskStepContext context);

    /// <summary>Gives back what <see cref="RunAsync"/> took (a refusal by this or a later step, a failure, a deadline).</summary>
    Task UndoAsync(TaskState task, CancellationToken cancellationToken);

    /// <summary>The agent succeeded: turns what <see cref="RunAsync"/> took into its lasting form, or lets it go.</summary>
    Task SettleAsync(TaskState task, CancellationToken cancellationToken) => Task.CompletedTask;
}
