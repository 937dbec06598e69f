namespace OpenHvx.Gateway.Proxy;

/// <summary>How the gateway tells which orchestrators to send requests to (section <c>Gateway:OrchestratorHealth</c>; YARP's health checks).</summary>
public sealed class OrchestratorHealthOptions
{
    /// <summary>How often each orchestrator's <c>/health/ready</c> is probed; two failed probes in a row take it out of the rotation, one success puts it back.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A probe not answered in this time failed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// An orchestrator that failed too many forwarded requests at the transport (connection refused, reset) is left out this long before
    /// it gets requests again, whatever its probes say.
    /// </summary>
    public TimeSpan ReactivationPeriod { get; set; } = TimeSpan.FromSeconds(30);
}
