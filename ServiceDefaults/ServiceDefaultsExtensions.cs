using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenHvx.ServiceDefaults.Health;
using OpenHvx.ServiceDefaults.Logging;
using OpenHvx.ServiceDefaults.Telemetry;

namespace OpenHvx.ServiceDefaults;

/// <summary>What every service (gateway, orchestrator, agent) has, wired once: logging, OpenTelemetry, health, problem answers.</summary>
public static class ServiceDefaultsExtensions
{
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    public const string MetricsPath = "/metrics";
    public const string ReadyTag = "ready";

    /// <summary>
    /// JSON log lines with the task's ids (<see cref="LogOutput"/>); traces and metrics (<see cref="ServiceTelemetry"/>); health checks;
    /// problem details. Call after the service has chosen its default URL.
    /// </summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, ServiceProfile profile)
    {
        LogOutput.Configure(builder.Logging, builder.Configuration, profile.DefaultLogFormat);
        if (profile.OwnsTelemetry && ServiceTelemetry.IsEnabled(builder.Configuration))
            ServiceTelemetry.Add(builder.Services, builder.Configuration, profile);
        if (profile.PublicFacing)
            builder.Services.AddSingleton<System.Diagnostics.DistributedContextPropagator>(new EdgeContextPropagator());
        builder.Services.AddHealthChecks();
        builder.Services.AddProblemDetails();
        // A string is not a number in this API (ASP.NET Core's web defaults read "2" as 2); the OpenAPI schemas say the same.
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        ManagementUrl.Listen(builder, profile);
        return builder;
    }

    /// <summary>Listens on <paramref name="url"/> unless <c>--urls</c>, ASPNETCORE_URLS, the HTTP(S)_PORTS variables or Kestrel:Endpoints say otherwise.</summary>
    public static void UseUrlsUnlessConfigured(this IWebHostBuilder webHost, Microsoft.Extensions.Configuration.IConfiguration configuration, string url)
    {
        string[] chosen = ["urls", "ASPNETCORE_URLS", "http_ports", "https_ports", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "HTTP_PORTS", "HTTPS_PORTS"];
        if (chosen.All(key => string.IsNullOrEmpty(configuration[key])) && !configuration.GetSection("Kestrel:Endpoints").Exists())
            webHost.UseUrls(url);
    }

    /// <summary>
    /// The first middleware: one log line per request where the profile asks for it (<see cref="RequestLog"/>), and every error answer a
    /// problem (<see cref="HttpHygiene.UseProblemAnswers"/>).
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app, ServiceProfile profile)
    {
        if (profile.LogsRequests)
            app.UseMiddleware<RequestLog>();
        app.UseProblemAnswers();
        ManagementUrl.UseGate(app, profile);
        return app;
    }

    /// <summary><c>/health/live</c> (the process answers), <c>/health/ready</c> (every check tagged <c>ready</c>), and <c>/metrics</c>.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, ServiceProfile profile)
    {
        Func<HttpContext, HealthReport, Task> answer = profile.PublicFacing ? HealthAnswer.WithoutDescriptions : HealthAnswer.WithDescriptions;
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = answer });
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = answer });
        if (profile.OwnsTelemetry && ServiceTelemetry.IsEnabled(app.Configuration))
            ServiceTelemetry.MapMetrics(app, profile);
        return app;
    }
}
