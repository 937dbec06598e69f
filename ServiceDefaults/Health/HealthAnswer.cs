using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OpenHvx.ServiceDefaults.Health;

/// <summary>
/// A health answer as JSON: the overall status, and each dependency (store, broker, identity store, orchestrator) with its
/// status, what is wrong when it is not healthy, and how long its check took. Exception texts stay in the log, not here:
/// the gateway's health is public.
/// </summary>
public static class HealthAnswer
{
    public const string ContentType = "application/json";

    public static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = ContentType;
        http.Response.Headers.CacheControl = "no-store";
        var checks = report.Entries.ToDictionary(
            entry => entry.Key,
            entry => new DependencyHealth(Name(entry.Value.Status), entry.Value.Description, Math.Round(entry.Value.Duration.TotalMilliseconds, 1)));
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
