using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.DevHost;

namespace OpenHvx.Tests.Support;

/// <summary>
/// The real DevHost in this process: the gateway on a loopback port in front of the orchestrator, saga and simulated
/// agent (running PowerShell), state in a temp folder. Requests go over real HTTP through the gateway.
/// </summary>
public sealed class TestDevHost(string root, IDictionary<string, string?>? settings = null) : IAsyncDisposable
{
    public const string AgentId = "devhost-agent-1";

    private DevHostApp? _app;

    public string Root { get; } = root;
    public string AgentData => Path.Combine(Root, "agent");

    public DevHostApp App => _app ?? throw new InvalidOperationException("Start the DevHost first.");

    /// <summary>The orchestrator's (and agent's) services.</summary>
    public IServiceProvider Services => App.Core.Services;

    public IServiceProvider GatewayServices => App.Gateway.Services;

    public string Url => App.Url;

    /// <summary>Settings for a token bucket of the gateway (<c>Gateway:RateLimit</c>, <c>Gateway:TokenRateLimit</c>...): <paramref name="limit"/> requests a minute.</summary>
    public static IDictionary<string, string?> Bucket(string section, int limit) => new Dictionary<string, string?>
    {
        [section + ":TokenLimit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [section + ":TokensPerPeriod"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [section + ":ReplenishmentPeriod"] = "00:01:00",
    };

    /// <summary>Starts the DevHost, waits until the simulated agent has sent a heartbeat with capacity, and returns an admin client.</summary>
    public async Task<HttpClient> StartAsync()
    {
        var all = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Orchestrator:Database"] = Path.Combine(Root, "openhvx.db"),
            ["Gateway:Database"] = Path.Combine(Root, "gateway.db"),
            ["Gateway:AdminPassword"] = Tokens.AdminPassword,
            ["Gateway:GenerateAdminPassword"] = "false",
            // Tests ask for many tokens from one address in a few seconds.
            ["Gateway:TokenRateLimit:TokenLimit"] = "1000",
            ["Gateway:TokenRateLimit:TokensPerPeriod"] = "1000",
            ["Agent:DataPath"] = AgentData,
            ["Agent:HeartbeatInterval"] = "00:00:01",
            // A heartbeat every second on a loaded two-core machine: a late one must not take the agent offline.
            ["Orchestrator:Agents:MissedHeartbeats"] = "10",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            all[key] = value;
        _app = await DevHostApp.StartAsync([], all);

        var client = await Tokens.AdminClientAsync(Url);
        await Eventually.True(async () =>
        {
            var agents = await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
            return agents.EnumerateArray().Any(a => a.GetProperty("online").GetBoolean() && a.GetProperty("capacity").ValueKind == JsonValueKind.Object);
        }, TimeSpan.FromSeconds(60), "the DevHost agent registers");
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }
}
