using Yarp.ReverseProxy;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// Direct calls from the gateway to an orchestrator, with the caller's own token (it checks it again): to one YARP counts healthy,
/// then to the next one when an orchestrator cannot be reached.
/// </summary>
public sealed class OrchestratorClient(IHttpClientFactory factory, OrchestratorUpstream upstream, IProxyStateLookup proxyState)
{
    public const string HttpClientName = "orchestrator";

    private int _turn;

    public Task<bool> TenantExistsAsync(string tenantId, HttpContext caller)
        => AnswersAsCallerAsync($"/api/v1/admin/tenants/{Uri.EscapeDataString(tenantId)}", caller);

    /// <summary>Whether the caller's (tenant) token is still honoured by the orchestrator: false for a disabled or deleted tenant.</summary>
    public Task<bool> CallerTenantIsActiveAsync(HttpContext caller) => AnswersAsCallerAsync("/api/v1/tenant/quotas", caller);

    /// <summary>A GET with the caller's own token: true when the orchestrator answers it with success.</summary>
    private async Task<bool> AnswersAsCallerAsync(string path, HttpContext caller)
    {
        using var response = await GetAsync(path, caller.RequestAborted, request =>
            request.Headers.TryAddWithoutValidation("Authorization", caller.Request.Headers.Authorization.ToString()));
        return response.IsSuccessStatusCode;
    }

    /// <summary>Each orchestrator's address (in the configured order) and whether its <c>/health/ready</c> answers with success, asked of all at once.</summary>
    public async Task<IReadOnlyList<(Uri Address, bool Ready)>> ReadinessAsync(CancellationToken cancellationToken)
    {
        var client = factory.CreateClient(HttpClientName);
        return await Task.WhenAll(upstream.Addresses.Select(async address =>
        {
            try
            {
                using var response = await client.GetAsync(new Uri(address, ServiceDefaults.ServiceDefaultsExtensions.ReadyPath), cancellationToken);
                return (address, response.IsSuccessStatusCode);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return (address, false);
            }
        }));
    }

    /// <summary>The orchestrator's own OpenAPI document (its routes of the API), as JSON.</summary>
    public async Task<System.Text.Json.Nodes.JsonObject> GetApiDocumentAsync(CancellationToken cancellationToken)
    {
        using var response = await GetAsync(ServiceDefaults.OpenApi.ApiDocument.Path, cancellationToken);
        response.EnsureSuccessStatusCode();
        return System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!.AsObject();
    }

    /// <summary>
    /// A GET to the orchestrators YARP counts available, taken in turns, then to the others; the next one is asked only when one
    /// cannot be reached (a timeout is not passed on: every orchestrator would add its own).
    /// </summary>
    private async Task<HttpResponseMessage> GetAsync(string path, CancellationToken cancellationToken, Action<HttpRequestMessage>? prepare = null)
    {
        var addresses = Addresses();
        if (addresses.Count == 0)
            throw new InvalidOperationException("The orchestrator's address is not set (OPENHVX_ORCHESTRATOR_URL).");
        var client = factory.CreateClient(HttpClientName);
        for (var i = 0; ; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(addresses[i], path));
            prepare?.Invoke(request);
            try
            {
                return await client.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException) when (i + 1 < addresses.Count)
            {
            }
        }
    }

    /// <summary>Those YARP counts available first (in turns, so that no orchestrator takes every call), then the others.</summary>
    private IReadOnlyList<Uri> Addresses()
    {
        if (!proxyState.TryGetCluster(OrchestratorUpstream.ClusterId, out var cluster))
            return upstream.Addresses;
        var available = cluster.DestinationsState.AvailableDestinations;
        var first = available.Count == 0 ? 0 : (int)((uint)Interlocked.Increment(ref _turn) % (uint)available.Count);
        return available.Skip(first).Concat(available.Take(first))
            .Concat(cluster.DestinationsState.AllDestinations.Except(available))
            .Select(destination => new Uri(destination.Model.Config.Address))
            .ToList();
    }
}
