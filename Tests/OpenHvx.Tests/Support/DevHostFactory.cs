using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Data.Sqlite;
using OpenHvx.DevHost;

namespace OpenHvx.Tests.Support;

/// <summary>The real DevHost (orchestrator, saga, simulated agent running PowerShell) in a test server, state in a temp folder.</summary>
public sealed class DevHostFactory(string root, IDictionary<string, string?>? settings = null) : WebApplicationFactory<DevHostMarker>
{
    public const string AgentId = "devhost-agent-1";

    public string Root { get; } = root;
    public string AgentData => Path.Combine(Root, "agent");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Orchestrator:Database", Path.Combine(Root, "openhvx.db"));
        builder.UseSetting("Agent:DataPath", AgentData);
        builder.UseSetting("Agent:HeartbeatInterval", "00:00:01");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            builder.UseSetting(key, value);
    }

    /// <summary>Waits until the simulated agent has sent a heartbeat with capacity.</summary>
    public async Task<HttpClient> StartAsync()
    {
        var client = CreateClient();
        await Eventually.True(async () =>
        {
            var agents = await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
            return agents.EnumerateArray().Any(a => a.GetProperty("online").GetBoolean() && a.GetProperty("capacity").ValueKind == JsonValueKind.Object);
        }, TimeSpan.FromSeconds(60), "the DevHost agent registers");
        return client;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }
}
