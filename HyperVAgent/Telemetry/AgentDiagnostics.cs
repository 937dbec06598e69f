using System.Diagnostics;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.HyperVAgent.Telemetry;

/// <summary>The agent's activity source (a task's handling, its script run) and its name in traces and metrics.</summary>
public static class AgentDiagnostics
{
    public const string Name = "OpenHvx.Agent";

    public static readonly ActivitySource Source = new(Name);

    public static readonly ServiceProfile Profile = new("openhvx-agent", [Name], [Name]);
}
