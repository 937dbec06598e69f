using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OpenHvx.Bench.Stack;

/// <summary>One of the platform's built services as a process, with its CPU time and peak memory read from /proc.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(string name, Process process, string url)
    {
        Name = name;
        _process = process;
        Url = url;
    }

    public string Name { get; }
    public string Url { get; }

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
            return directory?.FullName ?? throw new InvalidOperationException("OpenHvx.sln not found above the bench.");
        }
    }

    /// <summary>The service built in the same configuration as the bench.</summary>
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

    public static ServiceProcess Start(string name, string project, IDictionary<string, string> environment, string? url = null, string workingDirectory = "")
    {
        url ??= $"http://127.0.0.1:{FreePort()}";
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory.Length > 0 ? workingDirectory : Path.GetTempPath(),
        };
        info.ArgumentList.Add(AssemblyOf(project));
        info.Environment["ASPNETCORE_URLS"] = url;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var process = new Process { StartInfo = info };
        var service = new ServiceProcess(name, process, url);
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
            if (_output.Length < 1_000_000)
                _output.AppendLine(line);
        }
    }

    public async Task WaitReadyAsync(string path = "/health/ready", TimeSpan? timeout = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            try
            {
                if ((await http.GetAsync(Url + path)).IsSuccessStatusCode)
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Name} was not ready in time:\n{Output}");
            await Task.Delay(200);
        }
    }

    /// <summary>User + system CPU time so far and the peak resident memory (VmHWM), from /proc.</summary>
    public ProcessUsage Usage() => ProcessUsage.Of(_process.Id);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

public sealed record ProcessUsage(double CpuSeconds, long PeakMemoryMB)
{
    public static ProcessUsage Of(int pid)
    {
        try
        {
            // Fields after the command name (which may hold spaces): utime and stime are fields 14 and 15, in clock ticks (100/s).
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

    public static ProcessUsage Self() => Of(Environment.ProcessId);
}
