using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using PS = System.Management.Automation.PowerShell;

namespace OpenHvx.HyperVAgent.PowerShell;

/// <summary>
/// Runs the agent's scripts in a warm runspace pool. Request data only ever reaches PowerShell as
/// parameter values (AddCommand + AddParameter), never as script text.
/// </summary>
public sealed class PowerShellRunner : IDisposable
{
    public const string SimulationModule = "OpenHvx.SimulatedHyperV.psm1";

    private readonly AgentOptions _options;
    private readonly ILogger<PowerShellRunner> _logger;
    private readonly Lazy<RunspacePool> _pool;
    // The heartbeat's own runspace: measuring the host never waits behind tasks, inventory or clean-ups,
    // so a busy agent is not taken for a silent one.
    private readonly Lazy<RunspacePool> _heartbeatPool;
    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, Type>> _parameters = new(StringComparer.Ordinal);

    public PowerShellRunner(IOptions<AgentOptions> options, ILogger<PowerShellRunner> logger)
    {
        _options = options.Value;
        _logger = logger;
        _pool = new Lazy<RunspacePool>(() => OpenPool(_options.MaxConcurrency + 1, "tasks"), LazyThreadSafetyMode.ExecutionAndPublication);
        _heartbeatPool = new Lazy<RunspacePool>(() => OpenPool(1, "heartbeat"), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string ScriptPath(string name) => Path.Combine(_options.ResolvedScriptsPath, name + ".ps1");

    /// <summary>Opens the pools (about half a second each) so that the first task and heartbeat do not pay for them.</summary>
    public void Warm()
    {
        _ = _pool.Value;
        _ = _heartbeatPool.Value;
    }

    private RunspacePool OpenPool(int maxRunspaces, string use)
    {
        var iss = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows())
            iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
        if (_options.Backend == AgentBackend.Simulated)
        {
            var module = Path.Combine(AppContext.BaseDirectory, "Simulation", SimulationModule);
            iss.ImportPSModule([module]);
            Directory.CreateDirectory(_options.SimulationRoot);
            iss.Variables.Add(new SessionStateVariableEntry("OpenHvxSimRoot", _options.SimulationRoot, "State folder of the simulated Hyper-V host"));
        }
        var pool = RunspaceFactory.CreateRunspacePool(iss);
        pool.SetMinRunspaces(1);
        pool.SetMaxRunspaces(maxRunspaces);
        pool.Open();
        _logger.LogInformation("PowerShell runspace pool for {Use} open ({Backend} backend, up to {Max} runspaces)", use, _options.Backend, maxRunspaces);
        return pool;
    }

    /// <summary>The declared parameters of a script (name to type), read once from its param() block.</summary>
    public IReadOnlyDictionary<string, Type> GetParameters(string scriptPath)
        => _parameters.GetOrAdd(scriptPath, path =>
        {
            using var ps = PS.Create();
            ps.RunspacePool = _pool.Value;
            ps.AddCommand("Get-Command").AddParameter("Name", path);
            var info = ps.Invoke().Select(o => o.BaseObject).OfType<CommandInfo>().FirstOrDefault()
                ?? throw new InvalidOperationException($"Script {path} could not be read.");
            return info.Parameters.ToDictionary(p => p.Key, p => p.Value.ParameterType, StringComparer.OrdinalIgnoreCase);
        });

    /// <summary>Runs a command (a script path or a cmdlet) with literal parameters; stops it when <paramref name="timeout"/> passes.</summary>
    /// <remarks>Each run is a span (<c>powershell &lt;script&gt;</c>) of the task's trace, failed when the script failed, with its error code.</remarks>
    public async Task<ScriptOutcome> RunAsync(string command, IEnumerable<KeyValuePair<string, object?>> parameters, TimeSpan timeout, CancellationToken cancellationToken,
        RunspaceLane lane = RunspaceLane.Work)
    {
        using var activity = Telemetry.AgentDiagnostics.Source.StartActivity("powershell " + Path.GetFileName(command));
        var pool = lane == RunspaceLane.Heartbeat ? _heartbeatPool.Value : _pool.Value;
        var outcome = await RunScriptAsync(pool, command, parameters, timeout, cancellationToken);
        if (activity is not null && !outcome.Ok)
        {
            activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error, outcome.Error?.Code);
            activity.SetTag("openhvx.error.code", outcome.Error?.Code);
        }
        return outcome;
    }

    private static async Task<ScriptOutcome> RunScriptAsync(RunspacePool pool, string command, IEnumerable<KeyValuePair<string, object?>> parameters, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var ps = PS.Create();
        ps.RunspacePool = pool;
        ps.AddCommand(command);
        foreach (var (name, value) in parameters)
            ps.AddParameter(name, value);

        var invocation = ps.InvokeAsync();
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            var output = ReadOutput(await invocation.WaitAsync(timeoutSource.Token));
            // Scripts stop on the first error; an error record without output is a failure the script did not throw.
            if (output is null && ps.Streams.Error.Count > 0)
                return FromError(ps.Streams.Error[0]);
            return new ScriptOutcome(true, output, null);
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested)
        {
            await ps.StopAsync(null, null);
            await invocation.ContinueWith(_ => { }, TaskScheduler.Default);
            return cancellationToken.IsCancellationRequested
                ? ScriptOutcome.Failure(ErrorCodes.Interrupted, "The agent stopped while the script was running.")
                : ScriptOutcome.Failure(ErrorCodes.Timeout, $"The script did not finish within {timeout.TotalSeconds:0.###} s and was stopped.");
        }
        catch (RuntimeException ex)
        {
            return FromError(ex.ErrorRecord, ex);
        }
    }

    private static JsonElement? ReadOutput(IEnumerable<PSObject> output)
    {
        var last = output.LastOrDefault(o => o?.BaseObject is string);
        if (last?.BaseObject is not string text || string.IsNullOrWhiteSpace(text))
            return null;
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(new { text });
        }
    }

    private static ScriptOutcome FromError(ErrorRecord record, Exception? exception = null)
    {
        var id = record.FullyQualifiedErrorId ?? "";
        var comma = id.IndexOf(',');
        var head = comma >= 0 ? id[..comma] : id;
        var code = head.StartsWith("ERR_", StringComparison.Ordinal) ? head
            : (exception ?? record.Exception) is ParameterBindingException ? "ERR_INVALID_ARGUMENT"
            : ErrorCodes.ScriptFailed;
        var message = record.Exception?.Message ?? exception?.Message ?? record.ToString();
        return ScriptOutcome.Failure(code, message, new
        {
            category = record.CategoryInfo.Category.ToString(),
            errorId = id,
            position = record.InvocationInfo?.PositionMessage,
        });
    }

    public void Dispose()
    {
        if (_pool.IsValueCreated)
            _pool.Value.Dispose();
        if (_heartbeatPool.IsValueCreated)
            _heartbeatPool.Value.Dispose();
    }
}
