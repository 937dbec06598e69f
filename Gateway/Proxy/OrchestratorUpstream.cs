using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// YARP's routes to the orchestrator: <c>/api/v1/admin/**</c> and <c>/api/v1/tenant/**</c>. The address can be set
/// after start (DevHost starts the orchestrator on a port it learns only then).
/// </summary>
public sealed class OrchestratorUpstream
{
    public const string ClusterId = "orchestrator";

    private readonly InMemoryConfigProvider _config;
    private readonly TimeSpan _activityTimeout;

    public OrchestratorUpstream(IOptions<GatewayOptions> options)
    {
        Address = options.Value.OrchestratorUrl is { Length: > 0 } url ? new Uri(url) : null;
        _activityTimeout = options.Value.ProxyActivityTimeout;
        _config = new InMemoryConfigProvider(Routes, Clusters(Address));
    }

    public Uri? Address { get; private set; }

    public IProxyConfigProvider ConfigProvider => _config;

    public void SetAddress(Uri address)
    {
        Address = address;
        _config.Update(Routes, Clusters(address));
    }

    private static readonly IReadOnlyList<RouteConfig> Routes =
    [
        new() { RouteId = "admin-api", ClusterId = ClusterId, Match = new RouteMatch { Path = "/api/v1/admin/{**rest}" } },
        new() { RouteId = "tenant-api", ClusterId = ClusterId, Match = new RouteMatch { Path = "/api/v1/tenant/{**rest}" } },
    ];

    private IReadOnlyList<ClusterConfig> Clusters(Uri? address) =>
    [
        new()
        {
            ClusterId = ClusterId,
            HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { ActivityTimeout = _activityTimeout },
            Destinations = address is null
                ? new Dictionary<string, DestinationConfig>()
                : new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = address.ToString() } },
        },
    ];
}

/// <summary>Direct calls from the gateway to the orchestrator, with the caller's own token (it checks it again).</summary>
public sealed class OrchestratorClient(IHttpClientFactory factory, OrchestratorUpstream upstream)
{
    public const string HttpClientName = "orchestrator";

    public Task<bool> TenantExistsAsync(string tenantId, HttpContext caller)
        => AnswersAsCallerAsync($"/api/v1/admin/tenants/{Uri.EscapeDataString(tenantId)}", caller);

    /// <summary>Whether the caller's (tenant) token is still honoured by the orchestrator: false for a disabled or deleted tenant.</summary>
    public Task<bool> CallerTenantIsActiveAsync(HttpContext caller) => AnswersAsCallerAsync("/api/v1/tenant/quotas", caller);

    /// <summary>A GET with the caller's own token: true when the orchestrator answers it with success.</summary>
    private async Task<bool> AnswersAsCallerAsync(string path, HttpContext caller)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Upstream, path));
        request.Headers.TryAddWithoutValidation("Authorization", caller.Request.Headers.Authorization.ToString());
        using var response = await factory.CreateClient(HttpClientName).SendAsync(request, caller.RequestAborted);
        return response.IsSuccessStatusCode;
    }

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        using var response = await factory.CreateClient(HttpClientName).GetAsync(new Uri(Upstream, "/health/ready"), cancellationToken);
        return response.IsSuccessStatusCode;
    }

    /// <summary>The orchestrator's own OpenAPI document (its routes of the API), as JSON.</summary>
    public async Task<System.Text.Json.Nodes.JsonObject> GetApiDocumentAsync(CancellationToken cancellationToken)
    {
        using var response = await factory.CreateClient(HttpClientName).GetAsync(new Uri(Upstream, ServiceDefaults.OpenApi.ApiDocument.Path), cancellationToken);
        response.EnsureSuccessStatusCode();
        return System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!.AsObject();
    }

    private Uri Upstream => upstream.Address ?? throw new InvalidOperationException("The orchestrator's address is not set (OPENHVX_ORCHESTRATOR_URL).");
}
