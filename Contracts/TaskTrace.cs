using System.Diagnostics;

namespace OpenHvx.Contracts;

/// <summary>
/// How a task's trace and its identifiers travel: W3C <c>traceparent</c>/<c>tracestate</c> headers on the plain-JSON agent
/// messages, and the task's ids as baggage of the activity that handles it, from which every log line takes them.
/// </summary>
public static class TaskTrace
{
    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";
    public const string BaggageHeader = "baggage";

    public const string TaskIdBaggage = "openhvx.task_id";
    public const string TenantIdBaggage = "openhvx.tenant_id";
    public const string RequestIdBaggage = "openhvx.request_id";

    /// <summary>The W3C trace context of <paramref name="activity"/>, or null when there is none to pass on.</summary>
    public static string? TraceParentOf(Activity? activity)
        => activity is { IdFormat: ActivityIdFormat.W3C, Id: { } id } ? id : null;

    /// <summary>The parent a header names; null when it is missing or not a valid <c>traceparent</c>.</summary>
    public static ActivityContext? Parse(string? traceParent, string? traceState = null)
        => traceParent is { Length: 55 } && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : null;

    /// <summary>Marks <paramref name="activity"/> (and what it starts, in this process and beyond) as the handling of one task.</summary>
    public static void Mark(Activity? activity, Guid taskId, string? tenantId, string? requestId = null)
    {
        if (activity is null)
            return;
        activity.SetBaggage(TaskIdBaggage, taskId.ToString());
        activity.SetTag("openhvx.task.id", taskId.ToString());
        if (tenantId is { Length: > 0 })
        {
            activity.SetBaggage(TenantIdBaggage, tenantId);
            activity.SetTag("openhvx.tenant.id", tenantId);
        }
        if (requestId is { Length: > 0 })
            activity.SetBaggage(RequestIdBaggage, requestId);
    }

    /// <summary>The W3C <c>baggage</c> header for the task's ids on <paramref name="activity"/> (no other baggage leaves); null without any.</summary>
    public static string? BaggageOf(Activity? activity)
    {
        if (activity is null)
            return null;
        var items = new[] { TaskIdBaggage, TenantIdBaggage, RequestIdBaggage }
            .Select(key => (key, value: activity.GetBaggageItem(key)))
            .Where(item => item.value is { Length: > 0 })
            .Select(item => $"{item.key}={Uri.EscapeDataString(item.value!)}")
            .ToList();
        return items.Count == 0 ? null : string.Join(',', items);
    }

    /// <summary>The request id a W3C <c>baggage</c> header carries, if it is a valid one.</summary>
    public static string? RequestIdIn(string? baggage)
    {
        foreach (var item in (baggage ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = item.IndexOf('=');
            if (equals > 0 && item[..equals] == RequestIdBaggage)
            {
                var value = Uri.UnescapeDataString(item[(equals + 1)..].Split(';')[0].Trim());
                return IsRequestId(value) ? value : null;
            }
        }
        return null;
    }

    /// <summary>A request id kept as a client sent it (X-Request-Id): up to 128 letters, digits and <c>-_.:</c>.</summary>
    public static bool IsRequestId(string? value)
        => value is { Length: > 0 and <= 128 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    /// <summary>Sets the trace headers of a message sent from inside <paramref name="activity"/>.</summary>
    public static void Inject(Activity? activity, Action<string, string> setHeader)
    {
        if (TraceParentOf(activity) is not { } traceParent)
            return;
        setHeader(TraceParentHeader, traceParent);
        if (activity!.TraceStateString is { Length: > 0 } traceState)
            setHeader(TraceStateHeader, traceState);
        if (BaggageOf(activity) is { } baggage)
            setHeader(BaggageHeader, baggage);
    }

    /// <summary>
    /// Starts an activity for handling a message of task <paramref name="taskId"/> that came from outside MassTransit: a child of the
    /// trace the message names, else of the trace stored with the task, else of whatever is current.
    /// </summary>
    public static Activity? StartHandling(ActivitySource source, string name, ActivityKind kind, string? traceParent, string? storedTraceParent = null)
    {
        var parent = Parse(traceParent) ?? Parse(storedTraceParent);
        return parent is { } context ? source.StartActivity(name, kind, context) : source.StartActivity(name, kind);
    }
}
