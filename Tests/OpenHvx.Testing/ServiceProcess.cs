using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OpenHvx.Testing;

/// <summary>
/// One of the platform's built services as a real process (`dotnet OpenHvx.X.dll`), with its output kept for
/// diagnosis and its CPU time and peak memory readable from /proc. Used by the tests and the benchmark.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(string name, Process process, string url, string? connectTrace)
    {
        Name = name;
        _process = process;
        Url = url;
        ConnectTrace = connectTrace;
    }

    public string Name { get; }
    public string Url { get; }
    public int Id => _process.Id;

    /// <summary>The strace output of every connect() the service made, when it was started with one (see <see cref="Start"/>).</summary>
    public string? ConnectTrace { get; }

    /// <summary>The service's own process: under strace, the traced child rather than strace.</summary>
    private int ServicePid
    {
        get
        {
            if (ConnectTrace is null)
                return _process.Id;
            try
            {
                var children = File.ReadAllText($"/proc/{_process.Id}/task/{_process.Id}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return children.Length > 0 ? int.Parse(children[0]) : _process.Id;
            }
            catch (IOException)
            {
                return _process.Id;
            }
        }
    }
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once the process has exited.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OpenHvx.sln")))
                directory = directory.Parent;
            return directory?.FullName ?? throw new InvalidOperationException("OpenHvx.sln not found above the test folder.");
        }
    }

    /// <summary>The built service next to the test build (same configuration).</summary>
    public static string AssemblyOf(string project)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var path = Path.Combine(RepositoryRoot, project, "bin", configuration, "net10.0", $"OpenHvx.{project}.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build the solution first: {path} is missing.");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public const string Strace = "/usr/bin/strace";

    /// <summary>
    /// Starts the service. With <paramref name="connectTrace"/>, it runs under <c>strace -f -e trace=connect</c>, which writes
    /// every connect() of the service and its threads to that file (complete once the service has exited: <see cref="TerminateAsync"/>).
    /// </summary>
    public static ServiceProcess Start(string name, string project, IDictionary<string, string> environment, string? url = null, string? workingDirectory = null,
        string? connectTrace = null)
    {
        url ??= $"http://127.0.0.1:{FreePort()}";
        var info = new ProcessStartInfo(connectTrace is null ? "dotnet" : Strace)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (connectTrace is not null)
        {
            foreach (var argument in new[] { "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-e", "signal=none", "-o", connectTrace, "dotnet" })
                info.ArgumentList.Add(argument);
        }
        info.ArgumentList.Add(AssemblyOf(project));
        info.Environment["ASPNETCORE_URLS"] = url;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Information";
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var process = new Process { StartInfo = info };
        var service = new ServiceProcess(name, process, url, connectTrace);
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            if (_output.Length < 4_000_000)
                _output.AppendLine(line);
        }
    }

    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.True(async () =>
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            try
            {
                return (await http.GetAsync(Url + "/health/ready")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, timeout ?? TimeSpan.FromSeconds(60), $"{Name} is ready");
    }

    /// <summary>Until the process has exited on its own and all its output has been read.</summary>
    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    /// <summary>SIGTERM: the service shuts down gracefully (under strace, the service is signalled and strace ends with it).</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", ServicePid.ToString()]))
            await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    /// <summary>Sends a signal to the service (for example <c>STOP</c> and <c>CONT</c>: a process that hangs with its connections open).</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, ServicePid.ToString()]);
        await kill.WaitForExitAsync();
    }

    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>User + system CPU time so far and the peak resident memory (VmHWM), from /proc.</summary>
    public ProcessUsage Usage() => ProcessUsage.Of(ServicePid);

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed record ProcessUsage(double CpuSeconds, long PeakMemoryMB)
{
    public static ProcessUsage Of(int pid)
    {
        try
        {
            // After the command name (which may hold spaces): utime and stime are fields 14 and 15, in clock ticks (100/s).
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
            var hwm = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var kb = hwm is null ? 0 : long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            return new ProcessUsage(ticks / 100.0, kb / 1024);
        }
        catch (IOException)
        {
            return new ProcessUsage(0, 0);
        }
    }
}
