using System.Net.Http.Json;
using System.Text.Json;

namespace OpenHvx.Tests.Support;

/// <summary>Agent settings for a <see cref="ProcessStack"/>.</summary>
public sealed record AgentSpec(string AgentId, int LogicalProcessors = 16, long MemoryMB = 65536, bool WithoutVmCreate = false,
    IReadOnlyDictionary<string, string>? Environment = null);

/// <summary>
/// The gateway, the orchestrator and agents as separate processes on a virtual host of the local RabbitMQ; <see cref="Api"/>
/// is an admin client of the gateway. The orchestrator uses the fixture's broker user, every agent a user of its own made by
/// tools/agent-broker-user.sh. With a trace folder, each process runs under strace and records its connect() calls there.
/// </summary>
public sealed class ProcessStack : IAsyncDisposable
{
    private readonly TempFolder _folder = new("stack");
    private readonly List<ServiceProcess> _agents = [];
    private readonly Dictionary<string, string> _agentBrokerUrls = [];
    private readonly string? _traceFolder;
    private Dictionary<string, string> _orchestratorEnvironment = [];
    private IReadOnlyDictionary<string, string> _everyProcess = new Dictionary<string, string>();

    private ProcessStack(TestBroker broker, string? traceFolder)
    {
        Broker = broker;
        _traceFolder = traceFolder;
    }

    public TestBroker Broker { get; }
    /// <summary>The (first) orchestrator.</summary>
    public ServiceProcess Orchestrator => _orchestrators[0];

    /// <summary>Every orchestrator started (one unless <see cref="StartWithOrchestratorsAsync"/>), in start order.</summary>
    public IReadOnlyList<ServiceProcess> Orchestrators => _orchestrators;

    private readonly List<ServiceProcess> _orchestrators = [];
    public ServiceProcess Gateway { get; private set; } = null!;
    public IReadOnlyList<ServiceProcess> Agents => _agents;
    public HttpClient Api { get; private set; } = null!;

    public static Task<ProcessStack> StartAsync(params AgentSpec[] agents) => StartAsync(null, agents);

    public static Task<ProcessStack> StartAsync(IReadOnlyDictionary<string, string>? orchestratorEnvironment, params AgentSpec[] agents)
        => StartAsync(orchestratorEnvironment, null, agents);

    /// <param name="traceFolder">When set, every process runs under strace and writes its connect() calls to <c>&lt;name&gt;.strace</c> there.</param>
    public static Task<ProcessStack> StartAsync(IReadOnlyDictionary<string, string>? orchestratorEnvironment, string? traceFolder, params AgentSpec[] agents)
        => StartAsync(orchestratorEnvironment, traceFolder, null, agents);

    /// <param name="everyProcess">settings for the gateway, the orchestrator and every agent (an OTLP exporter's, for example)</param>
    public static Task<ProcessStack> StartAsync(IReadOnlyDictionary<string, string>? orchestratorEnvironment, string? traceFolder,
        IReadOnlyDictionary<string, string>? everyProcess, params AgentSpec[] agents)
        => StartAsync(1, orchestratorEnvironment, traceFolder, everyProcess, agents);

    /// <summary>Several orchestrators on the one SQLite file and virtual host, the gateway balancing over them (<see cref="Orchestrators"/>).</summary>
    public static Task<ProcessStack> StartWithOrchestratorsAsync(int orchestrators, IReadOnlyDictionary<string, string>? orchestratorEnvironment, params AgentSpec[] agents)
        => StartAsync(orchestrators, orchestratorEnvironment, null, null, agents);

    private static async Task<ProcessStack> StartAsync(int orchestrators, IReadOnlyDictionary<string, string>? orchestratorEnvironment, string? traceFolder,
        IReadOnlyDictionary<string, string>? everyProcess, params AgentSpec[] agents)
    {
        var phases = System.Diagnostics.Stopwatch.StartNew();
        var stack = new ProcessStack(await TestBroker.CreateAsync(), traceFolder) { _everyProcess = everyProcess ?? new Dictionary<string, string>() };
        var vhostAt = phases.Elapsed;
        try
        {
            var gatewayUrl = $"http://127.0.0.1:{ServiceProcess.FreePort()}";
            stack._orchestratorUrls = Enumerable.Range(0, orchestrators).Select(_ => $"http://127.0.0.1:{ServiceProcess.FreePort()}").ToList();
            var environment = new Dictionary<string, string>
            {
                ["OPENHVX_RABBITMQ_URL"] = stack.Broker.Url,
                ["OPENHVX_DB"] = stack._folder.File("orchestrator.db"),
                ["OPENHVX_AUTHORITY"] = gatewayUrl,
                ["Orchestrator__Seed__TenantId"] = "test1",
                // Test agents heartbeat every second on a loaded two-core machine: a late heartbeat must not take one offline.
                ["Orchestrator__Agents__MissedHeartbeats"] = "10",
            };
            foreach (var (key, value) in stack._everyProcess.Concat(orchestratorEnvironment ?? new Dictionary<string, string>()))
                environment[key] = value;
            stack._orchestratorEnvironment = environment;
            var gatewayEnvironment = new Dictionary<string, string>(stack._everyProcess)
            {
                ["OPENHVX_ORCHESTRATOR_URL"] = string.Join(",", stack._orchestratorUrls),
                ["OPENHVX_GATEWAY_DB"] = stack._folder.File("gateway.db"),
                ["OPENHVX_ADMIN_PASSWORD"] = Tokens.AdminPassword,
            };
            stack.Gateway = ServiceProcess.Start("gateway", "Gateway", gatewayEnvironment, gatewayUrl, connectTrace: stack.TraceFile("gateway"));
            for (var i = 0; i < orchestrators; i++)
            {
                var name = i == 0 ? "orchestrator" : $"orchestrator-{i + 1}";
                stack._orchestrators.Add(ServiceProcess.Start(name, "Orchestrator", environment, stack._orchestratorUrls[i], connectTrace: stack.TraceFile(name)));
            }
            // The agents' broker users side by side (a few management API calls each, or rabbitmqctl calls without the plugin), then the agents.
            var brokerUrls = await Task.WhenAll(agents.Select(a => a.AgentId).Distinct().Select(async id => (id, url: await stack.Broker.CreateAgentUserAsync(id))));
            foreach (var (id, url) in brokerUrls)
                stack._agentBrokerUrls[id] = url;
            var usersAt = phases.Elapsed;
            foreach (var spec in agents)
                await stack.StartAgentAsync(spec);
            await Task.WhenAll(stack._orchestrators.Append(stack.Gateway).Concat(stack._agents).Select(p => p.WaitReadyAsync()));
            var readyAt = phases.Elapsed;
            stack.Api = await Tokens.AdminClientAsync(gatewayUrl);
            await stack.WaitForAgentsAsync(agents.Select(a => a.AgentId).ToArray());
            TestContext.Progress.WriteLine($"[stack] vhost {vhostAt.TotalSeconds:0.0} s, agent users {usersAt.TotalSeconds:0.0} s, ready {readyAt.TotalSeconds:0.0} s, agents online {phases.Elapsed.TotalSeconds:0.0} s");
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    private string? TraceFile(string name) => _traceFolder is null ? null : Path.Combine(_traceFolder, name + ".strace");

    /// <summary>The broker URL (with password) of the agent's own user.</summary>
    public string AgentBrokerUrl(string agentId) => _agentBrokerUrls[agentId];

    /// <summary>Starts an agent on its own broker user (made on first start, kept on a restart).</summary>
    public async Task<ServiceProcess> StartAgentAsync(AgentSpec spec)
    {
        if (!_agentBrokerUrls.TryGetValue(spec.AgentId, out var brokerUrl))
            _agentBrokerUrls[spec.AgentId] = brokerUrl = await Broker.CreateAgentUserAsync(spec.AgentId);
        var environment = new Dictionary<string, string>(_everyProcess)
        {
            ["OPENHVX_RABBITMQ_URL"] = brokerUrl,
            ["OPENHVX_AGENT_ID"] = spec.AgentId,
            ["OPENHVX_AGENT_DATA"] = _folder.File("agent-" + spec.AgentId),
            ["Agent__HeartbeatInterval"] = "00:00:01",
            ["Agent__Simulated__LogicalProcessors"] = spec.LogicalProcessors.ToString(),
            ["Agent__Simulated__MemoryMB"] = spec.MemoryMB.ToString(),
        };
        foreach (var (key, value) in spec.Environment ?? new Dictionary<string, string>())
            environment[key] = value;
        if (spec.WithoutVmCreate)
        {
            var scripts = _folder.File("scripts-" + spec.AgentId);
            Directory.CreateDirectory(scripts);
            var source = Path.Combine(Path.GetDirectoryName(ServiceProcess.AssemblyOf("HyperVAgent"))!, "Scripts");
            foreach (var file in Directory.GetFiles(source).Where(f => Path.GetFileName(f) != "vm.create.ps1"))
                File.Copy(file, Path.Combine(scripts, Path.GetFileName(file)));
            environment["Agent__ScriptsPath"] = scripts;
        }
        var agent = ServiceProcess.Start(spec.AgentId, "HyperVAgent", environment, connectTrace: TraceFile(spec.AgentId + "-" + _agents.Count));
        _agents.Add(agent);
        return agent;
    }

    /// <summary>SIGKILL of the orchestrator, then a new one on the same SQLite file and virtual host.</summary>
    public async Task KillAndRestartOrchestratorAsync()
    {
        KillOrchestrator();
        await RestartOrchestratorAsync();
    }

    /// <summary>The orchestrator's SQLite file.</summary>
    public string OrchestratorDatabase => _folder.File("orchestrator.db");

    /// <summary>SIGKILL of the orchestrator; <see cref="RestartOrchestratorAsync"/> starts another.</summary>
    public void KillOrchestrator()
    {
        Orchestrator.Kill();
        _previousOrchestrators.Add(Orchestrator);
    }

    /// <summary>A new orchestrator on the same SQLite file and virtual host, after <see cref="KillOrchestrator"/>.</summary>
    public async Task RestartOrchestratorAsync()
    {
        // Same address: the gateway keeps proxying to it.
        _orchestrators[0] = ServiceProcess.Start("orchestrator", "Orchestrator", _orchestratorEnvironment, _orchestratorUrls[0],
            connectTrace: TraceFile("orchestrator-" + _previousOrchestrators.Count));
        await Orchestrator.WaitReadyAsync();
    }

    private List<string> _orchestratorUrls = [];

    private readonly List<ServiceProcess> _previousOrchestrators = [];

    public string AgentDataPath(string agentId) => _folder.File("agent-" + agentId);

    /// <summary>Starts an agent again on the same data folder (journal, simulated host).</summary>
    public async Task<ServiceProcess> RestartAgentAsync(AgentSpec spec)
    {
        var agent = await StartAgentAsync(spec);
        await agent.WaitReadyAsync();
        return agent;
    }

    public async Task<JsonElement> QuotaAsync() => await Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/tenants/test1/quotas");

    /// <summary>The orchestrator's dead letters (what its error queues held), newest first; the task's only when given.</summary>
    public async Task<List<JsonElement>> DeadLettersAsync(Guid? taskId = null)
        => (await Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/dead-letters?limit=500" + (taskId is null ? "" : $"&taskId={taskId}")))
            .GetProperty("items").EnumerateArray().ToList();

    /// <summary>Until the task has <paramref name="count"/> dead letters (taken from the error queue into the store).</summary>
    public async Task<List<JsonElement>> WaitForDeadLettersAsync(Guid taskId, int count = 1)
        => await Eventually.Get(() => DeadLettersAsync(taskId), letters => letters.Count >= count, TimeSpan.FromSeconds(30), $"{count} dead letter(s) of task {taskId}");

    public async Task<JsonElement> WaitForStatusAsync(Uri location, params string[] statuses)
        => await Eventually.Get(() => Api.GetFromJsonAsync<JsonElement>(location),
            task => statuses.Contains(task.GetProperty("status").GetString()), TimeSpan.FromSeconds(60), $"task {location} reaches {string.Join("/", statuses)}");

    public async Task WaitForAgentsAsync(params string[] agentIds)
        => await Eventually.True(async () =>
        {
            var agents = await Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents");
            var online = agents.EnumerateArray().Where(a => a.GetProperty("online").GetBoolean() && a.GetProperty("capacity").ValueKind == JsonValueKind.Object)
                .Select(a => a.GetProperty("agentId").GetString()).ToHashSet();
            return agentIds.All(online.Contains);
        }, TimeSpan.FromSeconds(60), $"agents {string.Join(", ", agentIds)} online");

    public async Task<HttpResponseMessage> CreateVmAsync(string name, object? extra = null)
        => await Api.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name } });

    public async Task<JsonElement> WaitForFinalAsync(Uri location, TimeSpan? timeout = null)
        => await Eventually.Get(() => Api.GetFromJsonAsync<JsonElement>(location),
            task => task.GetProperty("status").GetString() is "SUCCESS" or "FAILED", timeout ?? TimeSpan.FromSeconds(60), $"task {location} finishes");

    public string Logs => string.Join("\n", _previousOrchestrators.Concat(_orchestrators).Append(Gateway).Concat(_agents).Where(p => p is not null).Select(p => $"===== {p.Name}\n{p.Output}"));

    public async ValueTask DisposeAsync()
    {
        var phases = System.Diagnostics.Stopwatch.StartNew();
        Api?.Dispose();
        foreach (var process in _agents.Concat(_orchestrators).Append(Gateway).Where(p => p is not null))
            await process.DisposeAsync();
        var killedAt = phases.Elapsed;
        await Broker.DisposeAsync();
        _folder.Dispose();
        TestContext.Progress.WriteLine($"[stack] processes killed {killedAt.TotalSeconds:0.0} s, broker cleaned up {phases.Elapsed.TotalSeconds:0.0} s");
    }
}
