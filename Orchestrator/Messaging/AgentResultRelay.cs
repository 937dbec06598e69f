using MassTransit;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Messaging;

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
