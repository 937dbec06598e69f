using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.Tests.Support;

/// <summary>The agent's services on a simulated host in a folder of the test's, and what that host holds.</summary>
public static class AgentHost
{
    /// <summary>Agent services (simulated backend) with <paramref name="settings"/> on top; <paramref name="configure"/> adds to them.</summary>
    public static ServiceProvider Build(string dataPath, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Agent:AgentId"] = "agent-test",
            ["Agent:DataPath"] = dataPath,
            ["Agent:Backend"] = "Simulated",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            values[key] = value;
        var services = new ServiceCollection().AddLogging();
        services.AddHyperVAgent(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        configure?.Invoke(services);
        return services.BuildServiceProvider();
    }

    /// <summary>The VMs on the agent's host, as its status script reports them.</summary>
    public static async Task<List<JsonElement>> VmsAsync(IServiceProvider services)
    {
        var runner = services.GetRequiredService<PowerShellRunner>();
        var options = services.GetRequiredService<IOptions<AgentOptions>>().Value;
        var status = await runner.RunAsync(runner.ScriptPath("_host.status"), [new("BasePath", options.FullDataPath)], TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.That(status.Ok, Is.True, status.Error?.Message);
        return status.Output!.Value.GetProperty("vms").EnumerateArray().ToList();
    }
}
