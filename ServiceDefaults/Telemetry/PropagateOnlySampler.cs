using OpenTelemetry.Trace;

namespace OpenHvx.ServiceDefaults.Telemetry;

/// <summary>
/// The sampler when nothing is exported: no span is recorded (no tags, no timing work), but every activity is still created with its
/// ids and baggage, so log lines carry their trace and task ids and context still crosses HTTP, the bus and the agent wire.
/// </summary>
public sealed class PropagateOnlySampler : Sampler
{
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) => new(SamplingDecision.Drop);
}
