using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.Messaging;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Runs one task: at most once per task id (journal), result published before the delivery is
/// acknowledged (the consumer returns only after Publish completed), structured errors.
/// </summary>
public sealed class AgentTaskConsumer(
    IAgentWire wire,
    ActionScripts scripts,
    PowerShellRunner runner,
    TaskJournal journal,
    TimeProvider clock,
    IOptions<AgentOptions> options,
    ILogger<AgentTaskConsumer> logger) : IConsumer<AgentTask>
{
    public async Task Consume(ConsumeContext<AgentTask> context)
    {
        var task = context.Message;
        var agentId = options.Value.AgentId;
        var (state, stored) = journal.Begin(task.TaskId, task.Action, clock.GetUtcNow());
        switch (state)
        {
            case JournalEntryState.Finished:
                logger.LogInformation("Task {TaskId} was already run; republishing its result", task.TaskId);
                await wire.ResultAsync(context, JsonSerializer.Deserialize<AgentTaskResult>(stored!, JsonSerializerOptions.Web)!);
                return;
            case JournalEntryState.WasRunning:
                logger.LogWarning("Task {TaskId} was running when the agent stopped; it is not run twice", task.TaskId);
                await FinishAsync(context, Result(task, null, ScriptOutcome.Failure(ErrorCodes.Interrupted, "The agent stopped while this task was running; it was not run again.")));
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

        var startedAt = clock.GetUtcNow();
        await wire.StartedAsync(context, new AgentTaskStarted(task.TaskId, agentId, startedAt));
        ScriptOutcome outcome;
        try
        {
            var parameters = scripts.BuildParameters(script, task);
            outcome = await runner.RunAsync(script, parameters, options.Value.TimeoutFor(task.Action), context.CancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Task {TaskId} ({Action}) could not be run", task.TaskId, task.Action);
            outcome = ScriptOutcome.Failure(ErrorCodes.ScriptFailed, ex.Message);
        }
        logger.LogInformation("Task {TaskId} ({Action}) finished: {Outcome}", task.TaskId, task.Action, outcome.Ok ? "ok" : outcome.Error!.Code);
        await FinishAsync(context, Result(task, startedAt, outcome));
    }

    private AgentTaskResult Result(AgentTask task, DateTimeOffset? startedAt, ScriptOutcome outcome)
        => new(task.TaskId, options.Value.AgentId, outcome.Ok, outcome.Output, outcome.Error, startedAt, clock.GetUtcNow());

    private async Task FinishAsync(ConsumeContext context, AgentTaskResult result)
    {
        journal.Complete(result.TaskId, JsonSerializer.Serialize(result, JsonSerializerOptions.Web), result.FinishedAt);
        await wire.ResultAsync(context, result);
    }
}
