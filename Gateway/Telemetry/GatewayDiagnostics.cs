using OpenHvx.ServiceDefaults;

namespace OpenHvx.Gateway.Telemetry;

/// <summary>The gateway's name in traces and metrics; its requests, rate limits and forwarded calls are measured by ASP.NET Core and HttpClient.</summary>
public static class GatewayDiagnostics
{
    public static readonly ServiceProfile Profile = new("openhvx-gateway", [], []) { PublicFacing = true, LogsRequests = true };
}
