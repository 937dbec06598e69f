using OpenHvx.ServiceDefaults;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenHvx.Gateway;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Gateway;

/// <summary>
/// What the gateway hands upstream, seen by an upstream that echoes the request headers back; this gateway also has
/// Entra federation configured, so our tokens pass through its scheme selector.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class GatewayForwardingTests
{
    private TempFolder _folder = null!;
    private WebApplication _upstream = null!;
    private WebApplication _gateway = null!;
    private HttpClient _admin = null!;
    private string _gatewayUrl = "";

    private static string AddressOf(WebApplication app) => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new TempFolder(nameof(GatewayForwardingTests));
        var upstream = WebApplication.CreateBuilder();
        upstream.WebHost.UseUrls("http://127.0.0.1:0");
        upstream.Logging.ClearProviders();
        _upstream = upstream.Build();
        _upstream.MapMethods("/api/v1/admin/echo", ["GET", "POST"], (HttpContext http) =>
            Results.Ok(http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString())));
        // Answers 202 with the Location it is asked for, as the orchestrator answers a task.
        _upstream.MapGet("/api/v1/admin/located", (string to, HttpContext http) =>
        {
            http.Response.Headers.Location = to;
            return Results.StatusCode(StatusCodes.Status202Accepted);
        });
        await _upstream.StartAsync();

        var gateway = WebApplication.CreateBuilder();
        gateway.WebHost.UseUrls("http://127.0.0.1:0");
        gateway.Logging.ClearProviders();
        gateway.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OPENHVX_ORCHESTRATOR_URL"] = AddressOf(_upstream),
            ["Gateway:Database"] = _folder.File("gateway.db"),
            ["OPENHVX_ADMIN_PASSWORD"] = Tokens.AdminPassword,
            ["Gateway:MaxRequestBodyBytes"] = "1000",
            // Entra federation on: our own tokens must still go through the scheme selector.
            ["AzureAd:Instance"] = "https://login.microsoftonline.com/",
            ["AzureAd:TenantId"] = "00000000-0000-0000-0000-000000000001",
            ["AzureAd:ClientId"] = "00000000-0000-0000-0000-000000000002",
        });
        var profile = OpenHvx.Gateway.Telemetry.GatewayDiagnostics.Profile with { OwnsTelemetry = false };
        gateway.AddServiceDefaults(profile);
        gateway.Services.AddGateway(gateway.Configuration);
        _gateway = gateway.Build();
        _gateway.UseGateway(profile);
        await _gateway.StartAsync();
        _gatewayUrl = AddressOf(_gateway);
        _admin = await Tokens.AdminClientAsync(_gatewayUrl);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _admin?.Dispose();
        if (_gateway is not null)
            await _gateway.DisposeAsync();
        if (_upstream is not null)
            await _upstream.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folder?.Dispose();
    }

    [Test]
    public async Task Identity_headers_from_the_caller_never_reach_the_orchestrator()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/echo");
        foreach (var header in new[] { "X-Tenant-Id", "X-Roles", "X-User-Id", "X-Forwarded-User", "X-Remote-User", "X-Ms-Client-Principal" })
            request.Headers.TryAddWithoutValidation(header, "spoofed");
        request.Headers.TryAddWithoutValidation("X-Harmless", "kept");

        var received = await (await _admin.SendAsync(request)).Content.ReadFromJsonAsync<Dictionary<string, string>>();

        Assert.That(received!.Keys, Has.None.AnyOf("x-tenant-id", "x-roles", "x-user-id", "x-forwarded-user", "x-remote-user", "x-ms-client-principal"));
        Assert.That(received["x-harmless"], Is.EqualTo("kept"));
        Assert.That(received["authorization"], Does.StartWith("Bearer "), "the orchestrator validates the token again");
    }

    [Test]
    public async Task The_request_id_goes_upstream_and_back()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/echo");
        request.Headers.Add("X-Request-Id", "abc-123");
        var response = await _admin.SendAsync(request);
        var received = await response.Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.That(received!["x-request-id"], Is.EqualTo("abc-123"));
        Assert.That(response.Headers.GetValues("X-Request-Id").Single(), Is.EqualTo("abc-123"));

        using var hostile = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/echo");
        hostile.Headers.TryAddWithoutValidation("X-Request-Id", "bad id\twith spaces");
        var replaced = await (await _admin.SendAsync(hostile)).Content.ReadFromJsonAsync<Dictionary<string, string>>();
        Assert.That(replaced!["x-request-id"], Does.Match("^[0-9a-f]{32}$"));
    }

    [Test]
    public async Task A_relative_Location_from_upstream_reaches_the_client_absolute_at_the_gateway_whatever_forwarded_headers_it_sent()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/located?to=" + Uri.EscapeDataString("/api/v1/admin/tasks/42?x=1"));
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        request.Headers.TryAddWithoutValidation("Forwarded", "host=evil.example;proto=https");

        var response = await _admin.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(response.Headers.Location, Is.EqualTo(new Uri(new Uri(_gatewayUrl), "/api/v1/admin/tasks/42?x=1")));
        Assert.That(response.Headers.Location!.IsAbsoluteUri, Is.True);
    }

    [TestCase("https://elsewhere.example/api/v1/admin/tasks/42")]
    [TestCase("//evil.example/api/v1/admin/tasks/42")]
    [TestCase("tasks/42")]
    public async Task A_Location_that_is_not_a_path_from_the_root_is_left_as_upstream_sent_it(string location)
    {
        var response = await _admin.GetAsync("/api/v1/admin/located?to=" + Uri.EscapeDataString(location));

        Assert.That(response.Headers.Location!.OriginalString, Is.EqualTo(location));
    }

    [Test]
    public async Task A_body_over_the_limit_gets_413_and_is_not_forwarded()
    {
        var response = await _admin.PostAsync("/api/v1/admin/echo", new StringContent(new string('x', 2000)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString(), Is.EqualTo("ERR_PAYLOAD_TOO_LARGE"));
    }

    [Test]
    public async Task Health_endpoints_answer_without_a_token()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_gatewayUrl) };
        Assert.That((await http.GetAsync("/health/live")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        // The echo upstream has no /health/ready: the gateway is not ready without a ready orchestrator.
        Assert.That((await http.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
    }
}
