using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// YARP's routes to the orchestrators: <c>/api/v1/admin/**</c> and <c>/api/v1/tenant/**</c>, shared by the orchestrators listed in
/// OPENHVX_ORCHESTRATOR_URL as destinations <c>orchestrator-1</c>, <c>orchestrator-2</c>, ... that YARP's health checks take out
/// of the rotation and put back. The address can be set after start (DevHost starts the orchestrator on a port it learns only then).
/// </summary>
public sealed class OrchestratorUpstream
{
    public const string ClusterId = "orchestrator";

    private readonly InMemoryConfigProvider _config;
    private readonly TimeSpan _activityTimeout;
    private readonly OrchestratorHealthOptions _health;

    public OrchestratorUpstream(IOptions<GatewayOptions> options)
    {
        Addresses = OrchestratorAddresses.Parse(options.Value.OrchestratorUrl);
        _activityTimeout = options.Value.ProxyActivityTimeout;
        _health = options.Value.OrchestratorHealth;
        _config = new InMemoryConfigProvider(Routes, Clusters(Addresses));
    }

    public IReadOnlyList<Uri> Addresses { get; private set; }

    public IProxyConfigProvider ConfigProvider => _config;

    public void SetAddress(Uri address)
    {
        Addresses = [address];
        _config.Update(Routes, Clusters(Addresses));
    }

    private static readonly IReadOnlyList<RouteConfig> Routes =
    [
        new() { RouteId = "admin-api", ClusterId = ClusterId, Match = new RouteMatch { Path = "/api/v1/admin/{**rest}" } },
        new() { RouteId = "tenant-api", ClusterId = ClusterId, Match = new RouteMatch { Path = "/api/v1/tenant/{**rest}" } },
    ];

    private IReadOnlyList<ClusterConfig> Clusters(IReadOnlyList<Uri> addresses) =>
    [
        new()
        {
            ClusterId = ClusterId,
            HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { ActivityTimeout = _activityTimeout },
            // Of two orchestrators drawn at random, the one with fewer requests in progress: task event streams stay open for
            // hours, so an orchestrator holding many of them should get fewer new requests, which round robin would not see.
            LoadBalancingPolicy = LoadBalancingPolicies.PowerOfTwoChoices,
            HealthCheck = new HealthCheckConfig
            {
                Active = new ActiveHealthCheckConfig
                {
                    Enabled = true,
                    Interval = _health.Interval,
                    Timeout = _health.Timeout,
                    Policy = "ConsecutiveFailures",
                    Path = ServiceDefaults.ServiceDefaultsExtensions.ReadyPath,
                },
                Passive = new PassiveHealthCheckConfig
                {
                    Enabled = true,
                    Policy = "TransportFailureRate",
                    ReactivationPeriod = _health.ReactivationPeriod,
                },
                // With every orchestrator unhealthy, all of them are still tried (HealthyOrPanic, YARP's default): a try may
                // succeed, a 503 would be certain.
                AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyOrPanic,
            },
            Destinations = addresses.Select((address, index) => (address, index))
                .ToDictionary(d => OrchestratorAddresses.DestinationId(d.index), d => new DestinationConfig { Address = d.address.ToString() }),
        },
    ];
}
