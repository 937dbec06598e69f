using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Persistence;

namespace OpenHvx.Orchestrator.Messaging;

/// <summary>
/// What an agent sends on the <c>results</c> exchange, as plain JSON: a result (routing key <c>task.&lt;taskId&gt;</c>), or our
/// additions <c>started.&lt;taskId&gt;</c> and <c>progress.&lt;taskId&gt;</c>.
/// </summary>
/// <param name="Error">a result's error: a string (ours now, and the original agent's, <c>""</c> on success) or, from agents of the
/// previous release, an object <c>{code, message, details}</c></param>
/// <param name="ErrorCode">the code beside a string <paramref name="Error"/></param>
public sealed record AgentWireMessage(
    Guid? TaskId,
    string? AgentId,
    bool? Ok,
    JsonElement? Result,
    JsonElement? Error,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Message,
    DateTimeOffset? At,
    int? Attempt = null,
    string? ErrorCode = null,
    JsonElement? ErrorDetails = null);

/// <summary>A wire message the orchestrator refuses; the endpoint moves it to its error queue.</summary>
public sealed class RejectedWireMessageException(string message) : Exception(message);

/// <summary>
/// Relays agent messages from the results queue to the task saga, after <see cref="AgentMessageCheck"/>: a message for an
/// unknown task, from the wrong agent (by its body or its broker user), or of the wrong shape is moved aside, never a phantom task.
/// </summary>
public sealed class AgentResultRelay(AgentMessageCheck check) : IConsumer<AgentWireMessage>
{
    public async Task Consume(ConsumeContext<AgentWireMessage> context)
    {
        // The agent's plain message carries only W3C headers: its handling (and the saga's, which the publish below reaches) joins that trace.
        var routingKey = context.RoutingKey() ?? "";
        using var activity = TaskTrace.StartHandling(Telemetry.OrchestratorDiagnostics.Source, "agent " + AgentMessageCheck.KindOf(routingKey), System.Diagnostics.ActivityKind.Consumer,
            context.Headers.Get<string>(TaskTrace.TraceParentHeader));
        if (context.Message.TaskId is { } taskId)
            TaskTrace.Mark(activity, taskId, null, TaskTrace.RequestIdIn(context.Headers.Get<string>(TaskTrace.BaggageHeader)));
        if (await check.CheckAsync(routingKey, context.Message, AgentBrokerIdentity.UserOf(context), context.CancellationToken) is { } message)
            await context.Publish(message, message.GetType());
    }
}

/// <summary>Every task transition as plain JSON on <c>task.events</c>, routing key <c>tenant.action.status</c>.</summary>
public sealed class WireTaskEventPublisher(IServiceProvider services) : Tasks.ITaskEventPublisher
{
    // Resolved when first used: the bus is built from the saga, which publishes through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);

    public Task PublishAsync(TaskStateChanged change)
        => PlainJson.SendAsync(Bus, WireTopology.TaskEventsExchange, "topic",
            WireTopology.TaskEventRoutingKey(change.TenantId, change.Action, change.Status), change, change.TaskId);
}

/// <summary>Sends a task to its agent: exchange <c>jobs</c>, routing key <c>agent.&lt;agentId&gt;</c>, plain JSON, persistent.</summary>
public sealed class ExchangeAgentTaskSender(AgentQueueBinder queues, IServiceProvider services) : Tasks.Pipeline.IAgentTaskSender
{
    // Resolved when first used: the bus is built from the saga, whose steps send through this.
    private IBus Bus => field ??= Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IBus>(services);

    public async Task SendAsync(AgentTask task, CancellationToken cancellationToken)
    {
        await queues.EnsureBoundAsync(task.AgentId, cancellationToken);
        await PlainJson.SendAsync(Bus, WireTopology.JobsExchange, "direct", WireTopology.AgentRoutingKey(task.AgentId), task, task.TaskId, cancellationToken);
    }
}
