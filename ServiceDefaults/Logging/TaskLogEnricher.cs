using System.Diagnostics;
using OpenHvx.Contracts;
using Serilog.Core;
using Serilog.Events;

namespace OpenHvx.ServiceDefaults.Logging;

/// <summary>
/// Gives every log line the ids of what it is part of, from the current activity: <c>traceId</c> and <c>spanId</c>, and the
/// task's <c>taskId</c>, <c>tenantId</c> and <c>requestId</c> from its baggage (<see cref="TaskTrace.Mark"/>).
/// </summary>
public sealed class TaskLogEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (Activity.Current is not { } activity)
            return;
        logEvent.AddPropertyIfAbsent(new LogEventProperty("traceId", new ScalarValue(activity.TraceId.ToHexString())));
        logEvent.AddPropertyIfAbsent(new LogEventProperty("spanId", new ScalarValue(activity.SpanId.ToHexString())));
        Add(logEvent, activity, "taskId", TaskTrace.TaskIdBaggage);
        Add(logEvent, activity, "tenantId", TaskTrace.TenantIdBaggage);
        Add(logEvent, activity, "requestId", TaskTrace.RequestIdBaggage);
    }

    private static void Add(LogEvent logEvent, Activity activity, string name, string baggage)
    {
        if (activity.GetBaggageItem(baggage) is { } value)
            logEvent.AddPropertyIfAbsent(new LogEventProperty(name, new ScalarValue(value)));
    }
}
