using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace OpenHvx.ServiceDefaults.Telemetry;

/// <summary>
/// A second address (<c>Management:Url</c>, OPENHVX_MANAGEMENT_URL) for what only operators read: when it is set, <c>/metrics</c> answers
/// there and nowhere else. The gateway serves <c>/metrics</c> only there, so that its public port never does.
/// </summary>
public static class ManagementUrl
{
    public const string Setting = "Management:Url";

    public static Uri? Of(IConfiguration configuration)
    {
        var value = configuration[Setting] is { Length: > 0 } setting ? setting : configuration["OPENHVX_MANAGEMENT_URL"];
        if (value is not { Length: > 0 })
            return null;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.IsDefaultPort && !value.Contains(":" + url.Port, StringComparison.Ordinal)
            || url.Port == 0)
            throw new InvalidOperationException($"{Setting} (OPENHVX_MANAGEMENT_URL) must be an http URL with a port, not '{value}'.");
        return url;
    }

    /// <summary>Adds the management URL to the addresses the service listens on.</summary>
    public static void Listen(WebApplicationBuilder builder, ServiceProfile profile)
    {
        if (!profile.OwnsTelemetry || Of(builder.Configuration) is not { } url)
            return;
        var current = builder.WebHost.GetSetting(WebHostDefaults.ServerUrlsKey);
        builder.WebHost.UseUrls(string.IsNullOrEmpty(current) ? url.GetLeftPart(UriPartial.Authority) : $"{current};{url.GetLeftPart(UriPartial.Authority)}");
    }
}
