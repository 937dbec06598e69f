using System.Diagnostics;
using MassTransit;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Telemetry;

namespace OpenHvx.Orchestrator.Tasks;

/// <summary>
/// Every message of a task is handled inside the task's trace, with its ids on every log line: a message that arrives in another
/// trace (a result from an agent that sent no trace context, a deadline from the sweeper) is handled in an activity of the trace
/// stored with the task (<see cref="TaskState.TraceParent"/>), linked to the one it came in.
/// </summary>
public sealed class TaskTraceFilter : IFilter<SagaConsumeContext<TaskState>>
{
    public async Task Send(SagaConsumeContext<TaskState> context, IPipe<SagaConsumeContext<TaskState>> next)
    {
        var saga = context.Saga;
        var current = Activity.Current;
        Activity? joined = null;
        if (TaskTrace.Parse(saga.TraceParent) is { } stored && stored.TraceId != current?.TraceId)
        {
            ActivityLink[]? links = current is null ? null : [new ActivityLink(current.Context)];
            joined = OrchestratorDiagnostics.Source.StartActivity("task " + MessageNameOf(context), ActivityKind.Internal, stored, links: links);
        }
        if (saga.TenantId.Length > 0)
        {
            // The incoming activity too: the commit and what runs after it (the agent's send, the outcome line) run in it.
            TaskTrace.Mark(current, saga.CorrelationId, saga.TenantId, saga.SubmissionRequestId);
            TaskTrace.Mark(joined, saga.CorrelationId, saga.TenantId, saga.SubmissionRequestId);
        }
        try
        {
            await next.Send(context);
        }
        finally
        {
            joined?.Dispose();
        }
    }

    private static string MessageNameOf(ConsumeContext context)
        => context.SupportedMessageTypes.FirstOrDefault() is { } urn ? urn[(urn.LastIndexOf(':') + 1)..] : "message";

    public void Probe(ProbeContext context) => context.CreateFilterScope("task-trace");
}
