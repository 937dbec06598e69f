using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Testing;

namespace OpenHvx.Bench.Stack;

/// <summary>The platform under measurement: DevHost (one process) or gateway + orchestrator + agents on RabbitMQ.</summary>
public sealed class PlatformStack : IAsyncDisposable
{
    public const string AdminPassword = "bench-admin-password";

    private readonly List<ServiceProcess> _processes = [];

    private PlatformStack(string mode, string gatewayUrl, string orchestratorUrl)
    {
        Mode = mode;
        GatewayUrl = gatewayUrl;
        OrchestratorUrl = orchestratorUrl;
    }

    public string Mode { get; }
    public string GatewayUrl { get; }
    public string OrchestratorUrl { get; }

    /// <summary>Every orchestrator's address (one but in a run of several).</summary>
    public IReadOnlyList<string> OrchestratorUrls { get; private init; } = [];
    public IReadOnlyList<ServiceProcess> Processes => _processes;

    /// <summary>Limits out of the way (unless <paramref name="keepFairness"/>), simulated hosts with room for every VM of the run.</summary>
    private static Dictionary<string, string> Common(int agentConcurrency, bool keepFairness = false)
    {
        var settings = Unlimited(agentConcurrency);
        if (!keepFairness)
        {
            settings["Gateway__Fairness__MaxInFlight"] = "100000";
            settings["Gateway__Fairness__QueueLimit"] = "100000";
            settings["Gateway__Fairness__BodyBytesBurst"] = int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["Gateway__Fairness__BodyBytesPerSecond"] = int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return settings;
    }

    private static Dictionary<string, string> Unlimited(int agentConcurrency) => new()
    {
        ["OPENHVX_ADMIN_PASSWORD"] = AdminPassword,
        ["Logging__LogLevel__Default"] = "Warning",
        ["Gateway__RateLimit__TokenLimit"] = "1000000",
        ["Gateway__RateLimit__TokensPerPeriod"] = "1000000",
        ["Gateway__AdminRateLimit__TokenLimit"] = "1000000",
        ["Gateway__AdminRateLimit__TokensPerPeriod"] = "1000000",
        ["Gateway__TokenRateLimit__TokenLimit"] = "10000",
        ["Gateway__TokenRateLimit__TokensPerPeriod"] = "10000",
        ["Agent__HeartbeatInterval"] = "00:00:01",
        ["Agent__MaxConcurrency"] = agentConcurrency.ToString(),
        ["Agent__Simulated__LogicalProcessors"] = "4096",
        ["Agent__Simulated__MemoryMB"] = "1073741824",
        ["Agent__Simulated__StorageMB"] = "2000000000",
    };

    public static async Task<PlatformStack> StartDevHostAsync(string folder, int agentConcurrency, IReadOnlyDictionary<string, string>? settings = null,
        bool keepFairness = false)
    {
        var gatewayUrl = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
        var orchestratorUrl = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
        var environment = Common(agentConcurrency, keepFairness);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            environment[key] = value;
        environment["DevHost__OrchestratorUrl"] = orchestratorUrl;
        environment["Orchestrator__Database"] = Path.Combine(folder, "openhvx.db");
        environment["Gateway__Database"] = Path.Combine(folder, "gateway.db");
        environment["Gateway__GenerateAdminPassword"] = "false";
        environment["Agent__DataPath"] = Path.Combine(folder, "agent");
        var stack = new PlatformStack("devhost", gatewayUrl, orchestratorUrl) { OrchestratorUrls = [orchestratorUrl] };
        var devHost = ServiceProcess.Start("devhost", "DevHost", environment, gatewayUrl, folder);
        stack._processes.Add(devHost);
        await stack.StartedAsync(["devhost-agent-1"]);
        return stack;
    }

    /// <param name="orchestrators">how many orchestrators share the store and the broker, the gateway balancing over them</param>
    public static async Task<PlatformStack> StartRabbitMqAsync(string folder, string brokerUrl, int agents, int agentConcurrency, int orchestrators = 1)
    {
        var gatewayUrl = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
        var orchestratorUrls = Enumerable.Range(0, orchestrators).Select(_ => $"http://127.0.0.1:{ServiceProcess.FreePort()}").ToList();
        var stack = new PlatformStack("rabbitmq", gatewayUrl, orchestratorUrls[0]) { OrchestratorUrls = orchestratorUrls };
        var gateway = Common(agentConcurrency);
        gateway["OPENHVX_ORCHESTRATOR_URL"] = string.Join(",", orchestratorUrls);
        gateway["OPENHVX_GATEWAY_DB"] = Path.Combine(folder, "gateway.db");
        stack._processes.Add(ServiceProcess.Start("gateway", "Gateway", gateway, gatewayUrl, folder));
        var orchestrator = Common(agentConcurrency);
        orchestrator["OPENHVX_RABBITMQ_URL"] = brokerUrl;
        orchestrator["OPENHVX_DB"] = Path.Combine(folder, "orchestrator.db");
        orchestrator["OPENHVX_AUTHORITY"] = gatewayUrl;
        // The bench's agents share its broker user instead of one user each (tools/agent-broker-user.sh): the body is trusted.
        orchestrator["Orchestrator__Agents__RequireBrokerIdentity"] = "false";
        for (var i = 0; i < orchestrators; i++)
            stack._processes.Add(ServiceProcess.Start(orchestrators == 1 ? "orchestrator" : $"orchestrator-{i + 1}", "Orchestrator", orchestrator, orchestratorUrls[i], folder));
        var ids = Enumerable.Range(1, agents).Select(i => $"bench-agent-{i}").ToArray();
        foreach (var id in ids)
        {
            var agent = Common(agentConcurrency);
            agent["OPENHVX_RABBITMQ_URL"] = brokerUrl;
            agent["OPENHVX_AGENT_ID"] = id;
            agent["OPENHVX_AGENT_DATA"] = Path.Combine(folder, id);
            stack._processes.Add(ServiceProcess.Start(id, "HyperVAgent", agent, workingDirectory: folder));
        }
        await stack.StartedAsync(ids);
        return stack;
    }

    private async Task StartedAsync(string[] agentIds)
    {
        try
        {
            await Task.WhenAll(_processes.Select(p => p.WaitReadyAsync()));
            using var admin = await AdminClientAsync(OrchestratorUrl);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (true)
            {
                var agents = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
                var online = agents.EnumerateArray().Where(a => a.GetProperty("online").GetBoolean() && a.GetProperty("capacity").ValueKind == JsonValueKind.Object)
                    .Select(a => a.GetProperty("agentId").GetString()).ToHashSet();
                if (agentIds.All(online.Contains))
                    return;
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"agents {string.Join(", ", agentIds)} did not come online");
                await Task.Delay(200);
            }
        }
        catch
        {
            Console.Error.WriteLine(string.Join("\n", _processes.Select(p => $"===== {p.Name}\n{p.Output}")));
            throw;
        }
    }

    public Task<string> TokenAsync(string username, string password, string audience) => Tokens.PasswordAsync(GatewayUrl, username, password, audience);

    /// <summary>An admin client of <paramref name="baseUrl"/> (the gateway or, past it, the orchestrator: both check the token).</summary>
    public async Task<HttpClient> AdminClientAsync(string baseUrl)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", await TokenAsync("admin", AdminPassword, "admin"));
        return client;
    }

    /// <summary>A tenant without limits and a writer of it; returns the writer's token.</summary>
    public async Task<string> CreateTenantAsync(HttpClient admin, string tenantId)
    {
        var tenant = await admin.PostAsJsonAsync("/api/v1/admin/tenants", new
        {
            tenantId, name = tenantId, limits = new { cpu = -1, memoryMB = -1, storageMB = -1, vmCount = -1 },
        });
        if (!tenant.IsSuccessStatusCode)
            throw new InvalidOperationException($"tenant {tenantId}: {await tenant.Content.ReadAsStringAsync()}");
        using var gateway = new HttpClient { BaseAddress = new Uri(GatewayUrl) };
        gateway.DefaultRequestHeaders.Authorization = admin.DefaultRequestHeaders.Authorization;
        var user = await gateway.PostAsJsonAsync("/api/v1/admin/users", new { username = tenantId + "-writer", password = tenantId + "-password", tenantId, roles = new[] { "tenant-user-rw" } });
        if (!user.IsSuccessStatusCode)
            throw new InvalidOperationException($"user of {tenantId}: {await user.Content.ReadAsStringAsync()}");
        return await TokenAsync(tenantId + "-writer", tenantId + "-password", "tenant");
    }

    public Dictionary<string, ProcessUsage> Usage() => _processes.ToDictionary(p => p.Name, p => p.Usage());

    /// <summary>
    /// CPU milliseconds per second of each process with no task running (heartbeats, sweeps, polls), over <paramref name="measure"/>,
    /// once the stack has settled: after a load the runtime keeps working for a while (second-tier JIT, GC), which is not idle
    /// cost, so first waits (up to 30 s) until three successive seconds of the control plane's CPU lie within a quarter of their mean, or one stays under 2 % of a core.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, double>> IdleCpuAsync(TimeSpan measure)
    {
        // The control plane (devhost: the one process): the agents' own idle work (heartbeats through the runspace) jitters too much to tell.
        double Total() => Usage().Where(p => !p.Key.Contains("agent", StringComparison.Ordinal)).Sum(p => p.Value.CpuSeconds);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var last = Total();
        var rates = new List<double>();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var now = Total();
            rates.Add(now - last);
            last = now;
            var recent = rates.TakeLast(3).ToList();
            if (rates[^1] <= 0.02 || recent.Count == 3 && recent.Max() - recent.Min() <= 0.25 * recent.Average())
                break;
        }
        var before = Usage();
        var clock = Stopwatch.StartNew();
        await Task.Delay(measure);
        var after = Usage();
        return after.ToDictionary(p => p.Key, p => Math.Round((p.Value.CpuSeconds - before[p.Key].CpuSeconds) * 1000 / clock.Elapsed.TotalSeconds, 1));
    }

    public async ValueTask DisposeAsync()
    {
        // OPENHVX_BENCH_LOGS=<folder>: each process's output is kept there, to look into a slow or failing run.
        if (Environment.GetEnvironmentVariable("OPENHVX_BENCH_LOGS") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            foreach (var process in _processes)
                await File.WriteAllTextAsync(Path.Combine(logs, process.Name + ".log"), process.Output);
        }
        foreach (var process in _processes)
            await process.DisposeAsync();
    }
}

/// <summary>A virtual host of the local RabbitMQ for one bench run (rabbitmqctl), or the broker of OPENHVX_BENCH_RABBITMQ.</summary>
public sealed class BenchBroker : IAsyncDisposable
{
    private readonly string? _vhost;

    private BenchBroker(string url, string? vhost)
    {
        Url = url;
        _vhost = vhost;
    }

    public string Url { get; }

    public static async Task<BenchBroker> CreateAsync()
    {
        if (Environment.GetEnvironmentVariable("OPENHVX_BENCH_RABBITMQ") is { Length: > 0 } url)
            return new BenchBroker(url, null);
        var vhost = "openhvx-bench-" + Guid.NewGuid().ToString("N")[..8];
        await CtlAsync("add_vhost", vhost);
        await CtlAsync("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
        return new BenchBroker($"amqp://guest:guest@localhost:5672/{vhost}", vhost);
    }

    public static async Task<string> VersionAsync()
    {
        try
        {
            return (await CtlAsync("version")).Trim();
        }
        catch (Exception)
        {
            return "unknown";
        }
    }

    private static async Task<string> CtlAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-q");
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)}: {error}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_vhost is not null)
            await CtlAsync("delete_vhost", _vhost);
    }
}
