using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Telemetry;
using OpenHvx.ServiceDefaults;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Telemetry;

/// <summary>
/// The gateway built as its own service (it owns its telemetry): <c>/metrics</c> never answers on the public port, and answers on
/// <c>Management:Url</c> with ASP.NET Core's request metrics.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class GatewayMetricsTests
{
    private TempFolder _folder = null!;
    private WebApplication _gateway = null!;
    private HttpClient _http = null!;
    private string _publicUrl = "";
    private string _managementUrl = "";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new TempFolder(nameof(GatewayMetricsTests));
        _managementUrl = $"http://127.0.0.1:{FreePort()}";
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OPENHVX_ORCHESTRATOR_URL"] = "http://127.0.0.1:9",
            ["Gateway:Database"] = _folder.File("gateway.db"),
            ["OPENHVX_ADMIN_PASSWORD"] = Tokens.AdminPassword,
            ["Management:Url"] = _managementUrl,
        });
        var profile = GatewayDiagnostics.Profile;
        Assert.That(profile.OwnsTelemetry, Is.True);
        builder.AddServiceDefaults(profile);
        builder.Services.AddGateway(builder.Configuration);
        _gateway = builder.Build();
        _gateway.UseGateway(profile);
        await _gateway.StartAsync();
        _publicUrl = _gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Single(a => !a.EndsWith(":" + new Uri(_managementUrl).Port, StringComparison.Ordinal));
        _http = new HttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http?.Dispose();
        if (_gateway is not null)
            await _gateway.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folder?.Dispose();
    }

    [Test]
    public async Task The_public_port_answers_404_at_metrics()
    {
        using var response = await _http.GetAsync($"{_publicUrl}{ServiceDefaultsExtensions.MetricsPath}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task The_management_url_serves_the_request_metrics_of_the_public_port()
    {
        var metricsUrl = $"{_managementUrl}{ServiceDefaultsExtensions.MetricsPath}";
        (string, string)[] liveRequests = [("http_route", ServiceDefaultsExtensions.LivePath), ("http_response_status_code", "200"), ("http_request_method", "GET")];
        const string count = "http_server_request_duration_seconds_count";
        var before = await PrometheusText.ScrapeAsync(_http, metricsUrl);

        using (var live = await _http.GetAsync($"{_publicUrl}{ServiceDefaultsExtensions.LivePath}"))
            Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var after = await Eventually.Get(() => PrometheusText.ScrapeAsync(_http, metricsUrl),
            scrape => scrape.Value(count, liveRequests) > before.Value(count, liveRequests), TimeSpan.FromSeconds(20), "the health request is counted");
        Assert.That(after.Value(count, liveRequests) - before.Value(count, liveRequests), Is.EqualTo(1));
        Assert.That(after.Has("http_server_request_duration_seconds_bucket"), Is.True);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
