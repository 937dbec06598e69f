using System.Diagnostics;

namespace OpenHvx.Tests.Security;

/// <summary>tools/agent-broker-user.sh checks the agent id (Identifiers.AgentIdRule, matched whole) before it touches the broker.</summary>
public sealed class AgentBrokerUserScriptTests
{
    [TestCase("")]
    [TestCase("agent.a")]
    [TestCase("a b")]
    [TestCase("a\n")]
    [TestCase("a/b")]
    [TestCase("ägent")]
    [TestCase(".*")]
    [TestCase("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task An_invalid_agent_id_is_refused(string agentId)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(ServiceProcess.RepositoryRoot, "tools", "agent-broker-user.sh"), agentId, "/" })
            info.ArgumentList.Add(arg);
        // rabbitmqctl (in /usr/sbin) off the PATH: the refusal must come before any broker command (else exit 127).
        info.Environment["PATH"] = "/usr/bin:/bin";
        using var script = Process.Start(info)!;
        var output = await script.StandardOutput.ReadToEndAsync();
        var error = await script.StandardError.ReadToEndAsync();
        await script.WaitForExitAsync();

        Assert.That(script.ExitCode, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("invalid agent id"));
        Assert.That(output, Is.Empty);
    }
}
