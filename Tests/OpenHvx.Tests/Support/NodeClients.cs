using System.Diagnostics;

namespace OpenHvx.Tests.Support;

/// <summary>
/// Standard clients of other ecosystems (npm's <c>openid-client</c>, an OpenAPI validator), pinned in <c>Tests/clients/package.json</c>
/// and its lock file, installed once per test run with <c>npm ci</c> and run with Node.js.
/// </summary>
public static class NodeClients
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private static bool _installed;

    public static string Folder => Path.Combine(ServiceProcess.RepositoryRoot, "Tests", "clients");

    public sealed record Run(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
    }

    /// <summary>Runs <c>node &lt;script&gt; args...</c> in <see cref="Folder"/> (a script there, or an absolute path).</summary>
    public static async Task<Run> RunAsync(string script, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        await EnsureInstalledAsync();
        return await ExecAsync("node", [script, .. arguments], environment, timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>A file of an installed package, e.g. <c>axe-core/axe.min.js</c>.</summary>
    public static async Task<string> PackageFileAsync(string relativePath)
    {
        await EnsureInstalledAsync();
        return Path.Combine(Folder, "node_modules", relativePath);
    }

    private static async Task EnsureInstalledAsync()
    {
        await InstallGate.WaitAsync();
        try
        {
            if (_installed)
                return;
            string? problem = null;
            try
            {
                var version = await ExecAsync("node", ["--version"], null, TimeSpan.FromSeconds(20));
                if (version.ExitCode != 0)
                    problem = "node --version failed: " + version;
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                problem = "Node.js is not installed (node: " + ex.Message + ")";
            }
            if (problem is null)
            {
                var install = await ExecAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], null, TimeSpan.FromMinutes(3));
                if (install.ExitCode != 0)
                    Assert.Fail("npm ci in Tests/clients failed: " + install);
                _installed = true;
                return;
            }
            if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
                Assert.Fail(problem);
            Assert.Ignore(problem);
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<Run> ExecAsync(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', info.ArgumentList)} did not end within {timeout.TotalSeconds} s: {await error}");
        }
        return new Run(process.ExitCode, await output, await error);
    }
}
