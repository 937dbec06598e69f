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

    [Test]
    public async Task A_forged_host_naming_the_management_port_still_gets_404_at_metrics_on_the_public_port()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{_publicUrl}{ServiceDefaultsExtensions.MetricsPath}");
        request.Headers.Host = "127.0.0.1:" + new Uri(_managementUrl).Port;
        using var response = await _http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task The_management_url_serves_only_metrics_and_health()
    {
        using (var token = await _http.PostAsync($"{_managementUrl}/connect/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "password" })))
            Assert.That(token.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "no token service on the management port");
        using (var api = await _http.GetAsync($"{_managementUrl}/api/v1/admin/tasks"))
            Assert.That(api.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "no proxy on the management port");
        using (var live = await _http.GetAsync($"{_managementUrl}{ServiceDefaultsExtensions.LivePath}"))
            Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task The_public_health_answer_names_states_without_descriptions()
    {
        // The orchestrator (port 9) cannot be reached: unhealthy, and the public answer says only that.
        using var response = await _http.GetAsync($"{_publicUrl}{ServiceDefaultsExtensions.ReadyPath}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var answer = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var orchestrator = answer.GetProperty("checks").GetProperty("orchestrator");
        Assert.That(orchestrator.GetProperty("status").GetString(), Is.EqualTo("unhealthy"));
        Assert.That(orchestrator.TryGetProperty("description", out _), Is.False, answer.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
