using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OpenHvx.ServiceDefaults.Health;

/// <summary>
/// A health answer as JSON: the overall status, and each dependency (store, broker, identity store, orchestrator) with its
/// status, how long its check took and, on the services that are not public, what is wrong when it is not healthy. The
/// gateway's health is public: it names states only.
/// </summary>
public static class HealthAnswer
{
    public const string ContentType = "application/json";

    public static Task WithDescriptions(HttpContext http, HealthReport report) => WriteAsync(http, report, descriptions: true);

    public static Task WithoutDescriptions(HttpContext http, HealthReport report) => WriteAsync(http, report, descriptions: false);

    private static Task WriteAsync(HttpContext http, HealthReport report, bool descriptions)
    {
        http.Response.ContentType = ContentType;
        http.Response.Headers.CacheControl = "no-store";
        var checks = report.Entries.ToDictionary(
            entry => entry.Key,
            entry => new DependencyHealth(Name(entry.Value.Status), descriptions ? entry.Value.Description : null, Math.Round(entry.Value.Duration.TotalMilliseconds, 1)));
        return JsonSerializer.SerializeAsync(http.Response.Body, new Answer(Name(report.Status), checks), Json, http.RequestAborted);
    }

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Answer(string Status, IReadOnlyDictionary<string, DependencyHealth> Checks);

    private sealed record DependencyHealth(string Status, string? Description, double DurationMs);
}
