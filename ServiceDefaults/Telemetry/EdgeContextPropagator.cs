using System.Diagnostics;

namespace OpenHvx.ServiceDefaults.Telemetry;

/// <summary>
/// The public edge's inbound propagator: a client's <c>traceparent</c>, <c>tracestate</c> and <c>baggage</c> are not taken, so every
/// request starts a trace of the platform's own (a client cannot choose the trace its task joins, force sampling, or put ids in the
/// platform's log lines). Outbound, it injects as the process's propagator does.
/// </summary>
public sealed class EdgeContextPropagator : DistributedContextPropagator
{
    private readonly DistributedContextPropagator _outbound = Current;

    public override IReadOnlyCollection<string> Fields => _outbound.Fields;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) => _outbound.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        traceId = null;
        traceState = null;
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) => null;
}
