using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// A cancel from the orchestrator (the agent's control queue, apart from its tasks). A task handled here now is signalled: its consumer
/// stops its wait or its script and answers (<see cref="AgentTaskConsumer"/>). Any other is settled from the journal: one not started
/// here (not arrived yet, or left waiting by an agent that stopped) is recorded done with an <c>ERR_CANCELED</c> result, so that a later
/// delivery republishes that result and never runs it; one that was running when an agent stopped has what it built removed and is
/// canceled too; a finished one has its result published again. Results are stored before they are sent (<see cref="ResultSender"/>).
/// </summary>
public sealed class AgentTaskCancelConsumer(
    RunningTasks running,
    TaskJournal journal,
    ResultSender results,
    TaskCleanup cleanups,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<AgentTaskCancelConsumer> logger) : IConsumer<AgentTaskCancel>
{
    public async Task Consume(ConsumeContext<AgentTaskCancel> context)
    {
        var cancel = context.Message;
        if (cancel.AgentId != options.Value.AgentId)
        {
            logger.LogWarning("A cancel of task {TaskId} addressed to agent {AgentId} reached agent {Self}; ignored", cancel.TaskId, cancel.AgentId, options.Value.AgentId);
            return;
        }
        // Either the task is handled here (signalled), or this takes it, so that no delivery of it starts meanwhile.
        while (!running.TryCancel(cancel.TaskId))
        {
            if (!running.TryEnter(cancel.TaskId))
                continue;
            try
            {
                await SettleAsync(cancel, context.CancellationToken);
            }
            finally
            {
                running.Leave(cancel.TaskId);
            }
            return;
        }
        logger.LogInformation("Task {TaskId} is being handled here: asked to stop", cancel.TaskId);
    }

    private async Task SettleAsync(AgentTaskCancel cancel, CancellationToken cancellationToken)
    {
        var (state, stored) = journal.Begin(cancel.TaskId, cancel.Action, clock.GetUtcNow());
        switch (state)
        {
            case JournalEntryState.Finished:
                logger.LogInformation("Task {TaskId} had finished when its cancel came; its result is published again", cancel.TaskId);
                await results.SendStoredAsync(stored!, cancellationToken);
                return;
            case JournalEntryState.WasRunning:
                logger.LogWarning("Task {TaskId} was running when the agent stopped, and is now canceled; what it built is removed", cancel.TaskId);
                var task = new AgentTask(cancel.TaskId, cancel.TenantId, cancel.AgentId, cancel.Action, default, cancel.TaskId.ToString(), Attempt: cancel.Attempt);
                var cleanup = await cleanups.RunAsync(task, "canceled");
                await results.StoreAndSendAsync(Canceled(cancel,
                    "The task was canceled; the agent had stopped while it ran, and it was not run again" + (cleanup is null ? "." : ": what it had built was removed."),
                    cleanup is null ? null : new { cleanup }), cancellationToken);
                return;
            default:
                logger.LogInformation("Task {TaskId} was canceled before it started here; it will not run", cancel.TaskId);
                await results.StoreAndSendAsync(Canceled(cancel, "The task was canceled before it started; it was not run."), cancellationToken);
                return;
        }
    }

    private AgentTaskResult Canceled(AgentTaskCancel cancel, string message, object? details = null)
    {
        var error = ScriptOutcome.Failure(ErrorCodes.Canceled, message, details).Error;
        return new AgentTaskResult(cancel.TaskId, options.Value.AgentId, false, null, error, null, clock.GetUtcNow(), cancel.Attempt);
    }
}
