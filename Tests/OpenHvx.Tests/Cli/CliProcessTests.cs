using System.Diagnostics;
using System.Text.Json;
using OpenHvx.Cli;

namespace OpenHvx.Tests.Cli;

/// <summary>The built tool as a real process (<c>dotnet openhvx.dll</c>), as `dotnet tool install` and `dotnet run` start it.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class CliProcessTests : CliFixture
{
    private static string ToolAssembly
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            var path = Path.Combine(ServiceProcess.RepositoryRoot, "Cli", "bin", configuration, "net10.0", "openhvx.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"Build the CLI first: {path} is missing.");
        }
    }

    private async Task<CliResult> ProcessAsync(IDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(ToolAssembly);
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var name in new[] { CliEnvironment.Url, CliEnvironment.Token, CliEnvironment.ConfigDir })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new CliResult(process.ExitCode, await output, await error);
    }

    [Test]
    public async Task The_tool_as_a_process_creates_a_vm_and_lists_tasks_as_json()
    {
        var tenantId = await TenantAsync();

        var created = await ProcessAsync(Environment(AdminToken), "vm", "create", "--tenant", tenantId, "--name", "proc1", "--wait", "-o", "json");
        var listed = await ProcessAsync(Environment(AdminToken), "task", "list", "--tenant", tenantId, "--output", "json");

        Assert.That(created.ExitCode, Is.EqualTo(0), created.ToString());
        Assert.That(created.Json().GetProperty("status").GetString(), Is.EqualTo("SUCCESS"));
        Assert.That(created.Error, Does.Contain("Succeeded"), "progress on stderr");
        Assert.That(listed.ExitCode, Is.EqualTo(0), listed.ToString());
        Assert.That(listed.Json().GetProperty("items").EnumerateArray().Select(t => t.GetProperty("taskId").GetString()),
            Is.EqualTo(new[] { created.Json().GetProperty("taskId").GetString() }));
    }

    [Test]
    public async Task The_tools_help_documents_the_exit_codes_and_a_process_exit_code_is_the_documented_one()
    {
        var help = await ProcessAsync(Environment(null), "--help");
        var signedOut = await ProcessAsync(Environment(null), "task", "list");

        Assert.That(help.ExitCode, Is.EqualTo(0), help.ToString());
        Assert.That(help.Out, Does.Contain("Usage:").And.Contain("openhvx [command] [options]").And.Contain("7  --wait ran out of --timeout"));
        Assert.That(signedOut.ExitCode, Is.EqualTo(3), signedOut.ToString());
        Assert.That(signedOut.Out, Is.Empty, "nothing but the result on stdout");
    }
}
