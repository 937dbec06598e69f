using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OpenHvx.ServiceDefaults.Telemetry;

namespace OpenHvx.ServiceDefaults.Logging;

/// <summary>
/// One line per request, after its answer: method, path (never the query), status, duration and who asked. None for health probes
/// and scrapes. Error answers of the server are logged as errors, the rest (a client that went away: 499) at Information.
/// </summary>
public sealed partial class RequestLog(RequestDelegate next, ILogger<RequestLog> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (ServiceTelemetry.IsOperatorPath(http.Request.Path))
        {
            await next(http);
            return;
        }
        var started = Stopwatch.GetTimestamp();
        var status = StatusCodes.Status500InternalServerError;
        try
        {
            await next(http);
            status = http.Response.StatusCode;
        }
        finally
        {
            var elapsed = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1);
            if (http.RequestAborted.IsCancellationRequested)
                status = ClientClosedRequest;
            var level = status >= StatusCodes.Status500InternalServerError ? LogLevel.Error : LogLevel.Information;
            Answered(logger, level, http.Request.Method, http.Request.Path.Value ?? "/", status, elapsed, http.User.Identity?.Name ?? "anonymous");
        }
    }

    /// <summary>The client went away before its answer (nginx's code): not the server's error.</summary>
    public const int ClientClosedRequest = 499;

    [LoggerMessage(Message = "HTTP {Method} {Path} answered {Status} in {DurationMs} ms for {User}")]
    private static partial void Answered(ILogger logger, LogLevel level, string method, string path, int status, double durationMs, string user);
}
