using System.Diagnostics;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Telemetry;

/// <summary>The orchestrator's activity source and its name in traces and metrics.</summary>
public static class OrchestratorDiagnostics
{
    public const string Name = "OpenHvx.Orchestrator";

    public static readonly ActivitySource Source = new(Name);

    public static readonly ServiceProfile Profile = new("openhvx-orchestrator", [Name], [Name]);
}
