using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.ServiceDefaults;
using OpenTelemetry.Trace;

namespace OpenHvx.Tests.Telemetry;

/// <summary>The switches of the service defaults: telemetry off altogether, and the log format.</summary>
[TestFixture]
[Category("Unit")]
public sealed class ServiceDefaultsTests
{
    private static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(settings);
        var profile = new ServiceProfile("openhvx-test", [], []);
        builder.AddServiceDefaults(profile);
        var app = builder.Build();
        app.UseServiceDefaults(profile);
        app.MapDefaultEndpoints(profile);
        await app.StartAsync();
        return app;
    }

    [TestCase(null, HttpStatusCode.OK, true)]
    [TestCase("false", HttpStatusCode.NotFound, false)]
    public async Task Telemetry_enabled_decides_metrics_and_traces(string? enabled, HttpStatusCode metrics, bool tracer)
    {
        await using var app = await StartAsync(new() { ["Telemetry:Enabled"] = enabled });
        using var http = new HttpClient();
        using var response = await http.GetAsync(app.Urls.First() + ServiceDefaultsExtensions.MetricsPath);
        Assert.That(response.StatusCode, Is.EqualTo(metrics));
        Assert.That(app.Services.GetService<TracerProvider>() is not null, Is.EqualTo(tracer));
        using var live = await http.GetAsync(app.Urls.First() + ServiceDefaultsExtensions.LivePath);
        Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK), "health answers either way");
    }

    [Test]
    public void An_unknown_log_format_stops_the_service_at_start_with_the_setting_named()
    {
        var error = Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(new() { ["Logging:Format"] = "xml" }));
        Assert.That(error!.Message, Does.Contain("Logging:Format").And.Contain("'xml'"));
    }
}
