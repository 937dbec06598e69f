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

    /// <summary>Outbound HTTP requests carrying this option are neither traced nor given trace headers (webhooks to tenants' URLs).</summary>
    public static readonly HttpRequestOptionsKey<bool> Untraced = new("openhvx.untraced");

    public const string EnabledSetting = "Telemetry:Enabled";

    /// <summary><c>Telemetry:Enabled</c> (OPENHVX_TELEMETRY) false: no OpenTelemetry at all, no <c>/metrics</c>, no trace ids in log lines.</summary>
    public static bool IsEnabled(IConfiguration configuration)
    {
        var value = configuration[EnabledSetting] ?? configuration["OPENHVX_TELEMETRY"];
        return value is not { Length: > 0 } || !(value.Equals("false", StringComparison.OrdinalIgnoreCase) || value == "0" || value.Equals("off", StringComparison.OrdinalIgnoreCase));
    }

    public static void Add(IServiceCollection services, IConfiguration configuration, ServiceProfile profile)
    {
        var export = configuration[OtlpEndpointSetting] is { Length: > 0 };
        // W3C trace context only: OpenTelemetry's default adds a baggage propagator, with which its ASP.NET Core listener would take
        // a request's context again, past what the host's propagator decided (EdgeContextPropagator at the gateway).
        OpenTelemetry.Sdk.SetDefaultTextMapPropagator(new OpenTelemetry.Context.Propagation.TraceContextPropagator());
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(profile.Name, serviceVersion: typeof(ServiceTelemetry).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing =>
            {
                tracing.AddSource(profile.ActivitySources).AddSource(MassTransitSource)
                    .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = http => !IsOperatorPath(http.Request.Path))
                    .AddHttpClientInstrumentation(http => http.FilterHttpRequestMessage = request => !request.Options.TryGetValue(Untraced, out var untraced) || !untraced);
                if (export)
                    tracing.AddOtlpExporter();
                else if (configuration["OTEL_TRACES_SAMPLER"] is not { Length: > 0 })
                    tracing.SetSampler(new PropagateOnlySampler());
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
        app.MapPrometheusScrapingEndpoint(ServiceDefaultsExtensions.MetricsPath);
    }
}
