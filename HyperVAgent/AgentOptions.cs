namespace OpenHvx.HyperVAgent;

public enum AgentBackend
{
    Simulated,
    HyperV,
}

/// <summary>Settings of the agent (section <c>Agent</c>; OPENHVX_AGENT_ID, OPENHVX_AGENT_DATA).</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>Agent id, <c>[A-Za-z0-9_-]+</c>; names its task queue <c>agent.&lt;id&gt;.tasks</c>.</summary>
    public string AgentId { get; set; } = "";

    /// <summary>Base folder: images/, vms/, the task journal and the simulation's state.</summary>
    public string DataPath { get; set; } = ".openhvx/agent";

    /// <summary>Folder of the action scripts; by default the Scripts folder next to the agent's assembly.</summary>
    public string? ScriptsPath { get; set; }

    public AgentBackend Backend { get; set; } = OperatingSystem.IsWindows() ? AgentBackend.HyperV : AgentBackend.Simulated;

    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan InventoryInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many tasks run at once (each in its own runspace of the pool).</summary>
    public int MaxConcurrency { get; set; } = 4;

    public TimeSpan DefaultActionTimeout { get; set; } = TimeSpan.FromMinutes(10);
    public Dictionary<string, TimeSpan> ActionTimeouts { get; set; } = new() { ["vm.create"] = TimeSpan.FromMinutes(25) };

    /// <summary>On shutdown, running tasks may finish for this long; then they are stopped and reported ERR_INTERRUPTED.</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often results the broker has not confirmed are published again (doubling while publishing fails, up to a minute).</summary>
    public TimeSpan ResultRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the journal keeps a finished task whose result the broker confirmed, so that a redelivery of the task within it answers
    /// the stored result instead of running it again; far above any redelivery (the orchestrator resends a task only until its deadline).
    /// Zero or less keeps every row.
    /// </summary>
    public TimeSpan JournalRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Error codes of a script that are worth another try (host busy, file in use), up to <see cref="TransientRetries"/> times.</summary>
    public List<string> TransientErrorCodes { get; set; } = ["ERR_BUSY", "ERR_SIM_BUSY", "ERR_HOST_BUSY", "ERR_FILE_IN_USE"];
    public int TransientRetries { get; set; } = 3;
    public TimeSpan TransientRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>vCPUs offered per logical processor.</summary>
    public double CpuOvercommit { get; set; } = 4;

    /// <summary>Host memory kept for the parent partition, not offered to VMs.</summary>
    public long ReservedMemoryMB { get; set; }

    public SimulatedHostOptions Simulated { get; set; } = new();

    public TimeSpan TimeoutFor(string action) => ActionTimeouts.TryGetValue(action, out var timeout) ? timeout : DefaultActionTimeout;

    public string ResolvedScriptsPath => ScriptsPath ?? Path.Combine(AppContext.BaseDirectory, "Scripts");
    public string FullDataPath => Path.GetFullPath(DataPath);
    public string SimulationRoot => Path.Combine(FullDataPath, "sim");
}

/// <summary>The simulated Hyper-V host: capacity, switches, injected latency and faults (written to the module's config.json).</summary>
public sealed class SimulatedHostOptions
{
    public string HostName { get; set; } = "sim-host";
    public int LogicalProcessors { get; set; } = 16;
    public long MemoryMB { get; set; } = 65536;
    public long StorageMB { get; set; } = 1048576;
    public List<string> Switches { get; set; } = ["Default Switch"];
    /// <summary>Milliseconds of latency per cmdlet name (<c>*</c> for all).</summary>
    public Dictionary<string, int> LatencyMs { get; set; } = [];
    public Dictionary<string, SimulatedFault> Faults { get; set; } = [];
    /// <summary>Image files created (as simulated VHDX, size in GB) in the agent's images folder when missing; by default the demo catalog's.</summary>
    public Dictionary<string, int> Images { get; set; } = OpenHvx.Contracts.DemoCatalog.Images.ToDictionary(i => i.File, i => i.MinStorageGB);
}

public sealed class SimulatedFault
{
    public string Message { get; set; } = "injected fault";
    public double Rate { get; set; } = 1.0;
    /// <summary>The error id the cmdlet fails with.</summary>
    public string ErrorId { get; set; } = "ERR_SIMULATED_FAULT";
    /// <summary>Fail only the first N calls (a transient fault); null = every call (at <see cref="Rate"/>).</summary>
    public int? Times { get; set; }
}
