namespace OpenHvx.ServiceDefaults;

/// <summary>What a service tells <see cref="ServiceDefaultsExtensions.AddServiceDefaults"/> about itself.</summary>
/// <param name="Name">the OpenTelemetry <c>service.name</c></param>
/// <param name="ActivitySources">its own activity sources (MassTransit's and ASP.NET Core's are always listened to)</param>
/// <param name="Meters">its own meters (ASP.NET Core's, the runtime's and MassTransit's are always read)</param>
public sealed record ServiceProfile(string Name, string[] ActivitySources, string[] Meters)
{
    /// <summary>The service faces the public (the gateway): <c>/metrics</c> is served only on the management URL, never on its public port.</summary>
    public bool PublicFacing { get; init; }

    /// <summary>One log line per request (<see cref="Logging.RequestLog"/>): the gateway's, which sees every request first.</summary>
    public bool LogsRequests { get; init; }

    /// <summary>False for a second host in one process (DevHost's gateway): the other host's providers already read every source and meter.</summary>
    public bool OwnsTelemetry { get; init; } = true;

    /// <summary>The log format when <c>Logging:Format</c> (OPENHVX_LOG_FORMAT) names none: JSON lines in the services, text in DevHost.</summary>
    public LogFormat DefaultLogFormat { get; init; } = LogFormat.Json;
}

public enum LogFormat
{
    Json,
    Text,
}
