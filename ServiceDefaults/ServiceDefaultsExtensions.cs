using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
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
        if (profile.OwnsTelemetry)
            ServiceTelemetry.Add(builder.Services, builder.Configuration, profile);
        builder.Services.AddHealthChecks();
        builder.Services.AddProblemDetails();
        ManagementUrl.Listen(builder, profile);
        return builder;
    }

    /// <summary>Listens on <paramref name="url"/> unless <c>--urls</c> or ASPNETCORE_URLS say otherwise.</summary>
    public static void UseUrlsUnlessConfigured(this IWebHostBuilder webHost, Microsoft.Extensions.Configuration.IConfiguration configuration, string url)
    {
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["ASPNETCORE_URLS"]))
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
        return app;
    }

    /// <summary><c>/health/live</c> (the process answers), <c>/health/ready</c> (every check tagged <c>ready</c>), and <c>/metrics</c>.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, ServiceProfile profile)
    {
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthAnswer.WriteAsync });
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = HealthAnswer.WriteAsync })
            ;
        if (profile.OwnsTelemetry)
            ServiceTelemetry.MapMetrics(app, profile);
        return app;
    }
}
