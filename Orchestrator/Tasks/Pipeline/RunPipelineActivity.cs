using MassTransit;

namespace OpenHvx.Orchestrator.Tasks.Pipeline;

/// <summary>
/// The saga's work on a submission: every step of <see cref="TaskPipeline"/> in process, each state entered on the way
/// (timeline, <c>task.events</c>), inside the message's store transaction. A refusal marks the task rejected; the machine
/// then moves it to Failed, otherwise to AwaitingResult.
/// </summary>
public sealed class RunPipelineActivity(TaskPipeline pipeline, TaskLifecycle lifecycle, Actions.TaskActionCatalog actions)
    : IStateMachineActivity<TaskState, SubmitTask>
{
    public async Task Execute(BehaviorContext<TaskState, SubmitTask> context, IBehavior<TaskState, SubmitTask> next)
    {
        var saga = context.Saga;
        var refusal = await pipeline.RunAsync(saga, actions.Get(saga.Action), async state =>
        {
            await lifecycle.OnEnteringAsync(context, state);
            saga.CurrentState = state;
        }, context.CancellationToken);
        if (refusal is not null)
        {
            saga.Rejected = true;
            saga.Error = refusal;
            saga.FinishedAt = lifecycle.Now;
        }
        await next.Execute(context);
    }

    public Task Faulted<TException>(BehaviorExceptionContext<TaskState, SubmitTask, TException> context, IBehavior<TaskState, SubmitTask> next)
        where TException : Exception
        => next.Faulted(context);

    public void Probe(ProbeContext context) => context.CreateScope("run-pipeline");

    public void Accept(StateMachineVisitor visitor) => visitor.Visit(this);
}
