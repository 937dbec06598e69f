using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OpenHvx.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry for a service: traces of its HTTP requests, outgoing HTTP calls, MassTransit's sends and consumes and its own
/// activities; metrics of ASP.NET Core, the runtime, MassTransit and its own meters, on <c>/metrics</c> in Prometheus' text format.
/// Exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTEL_EXPORTER_OTLP_PROTOCOL and the other OTEL_* variables apply).
/// </summary>
public static class ServiceTelemetry
{
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string MassTransitSource = "MassTransit";

    public static void Add(IServiceCollection services, IConfiguration configuration, ServiceProfile profile)
    {
        var export = configuration[OtlpEndpointSetting] is { Length: > 0 };
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(profile.Name, serviceVersion: typeof(ServiceTelemetry).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing =>
            {
                tracing.AddSource(profile.ActivitySources).AddSource(MassTransitSource)
                    .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = http => !IsOperatorPath(http.Request.Path))
                    .AddHttpClientInstrumentation();
                if (export)
                    tracing.AddOtlpExporter();
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(profile.Meters).AddMeter(MassTransitSource, "System.Runtime")
                    .AddAspNetCoreInstrumentation()
                    .AddPrometheusExporter();
                if (export)
                    metrics.AddOtlpExporter();
            });
    }

    /// <summary>Health probes and scrapes: no trace, no log line.</summary>
    public static bool IsOperatorPath(PathString path)
        => path.StartsWithSegments("/health") || path.StartsWithSegments(ServiceDefaultsExtensions.MetricsPath);

    public static void MapMetrics(WebApplication app, ServiceProfile profile)
    {
        var management = ManagementUrl.Of(app.Configuration);
        if (management is null && profile.PublicFacing)
            return;
        var endpoint = app.MapPrometheusScrapingEndpoint(ServiceDefaultsExtensions.MetricsPath);
        if (management is not null)
            endpoint.RequireHost($"*:{management.Port}");
    }
}
