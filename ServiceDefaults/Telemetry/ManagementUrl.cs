using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace OpenHvx.ServiceDefaults.Telemetry;

/// <summary>
/// A second address (<c>Management:Url</c>, OPENHVX_MANAGEMENT_URL) for what only operators read: when it is set, <c>/metrics</c> answers
/// there and nowhere else, and that address answers nothing but <c>/metrics</c> and <c>/health</c>. The gateway serves <c>/metrics</c> only
/// there, so that its public port never does. Which address a request came to is the connection's local port, never its Host header.
/// </summary>
public static class ManagementUrl
{
    public const string Setting = "Management:Url";

    /// <summary>The configured address and its port; null when none is set.</summary>
    public static (string Url, int Port)? Of(IConfiguration configuration)
    {
        var value = configuration[Setting] is { Length: > 0 } setting ? setting : configuration["OPENHVX_MANAGEMENT_URL"];
        if (value is not { Length: > 0 })
            return null;
        // Kestrel's any-address forms (http://*:9464, http://+:9464) are not URIs; their port is what matters here.
        var parsable = value.Replace("://*:", "://0.0.0.0:").Replace("://+:", "://0.0.0.0:");
        if (!Uri.TryCreate(parsable, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")
            || !parsable.Contains(":" + url.Port, StringComparison.Ordinal) || url.Port == 0)
            throw new InvalidOperationException($"{Setting} (OPENHVX_MANAGEMENT_URL) must be an http URL with a port, not '{value}'.");
        return (value.TrimEnd('/'), url.Port);
    }

    /// <summary>Adds the management URL to the addresses the service listens on.</summary>
    public static void Listen(WebApplicationBuilder builder, ServiceProfile profile)
    {
        if (!profile.OwnsTelemetry || Of(builder.Configuration) is not { } management)
            return;
        var current = builder.WebHost.GetSetting(WebHostDefaults.ServerUrlsKey);
        builder.WebHost.UseUrls(string.IsNullOrEmpty(current) ? management.Url : $"{current};{management.Url}");
    }

    /// <summary>Keeps the two addresses apart: <c>/metrics</c> only on the management port, and only operators' paths there.</summary>
    public static void UseGate(WebApplication app, ServiceProfile profile)
    {
        if (!profile.OwnsTelemetry || Of(app.Configuration) is not { } management)
            return;
        app.Use((http, next) =>
        {
            var onManagementPort = http.Connection.LocalPort == management.Port;
            var metrics = http.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.MetricsPath);
            var allowed = onManagementPort ? ServiceTelemetry.IsOperatorPath(http.Request.Path) : !metrics;
            return allowed ? next(http) : Problems.WriteAsync(http, Contracts.ErrorCodes.NotFound, "Nothing is served at this path.", StatusCodes.Status404NotFound);
        });
    }
}
