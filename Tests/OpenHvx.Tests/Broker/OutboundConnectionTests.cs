using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>
/// No service opens a connection nobody configured (a vendor's usage report, a lookup of an internet host): the gateway, the
/// orchestrator and an agent run under strace while a VM is created, a token issued and the registry read.
/// </summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class OutboundConnectionTests
{
    [Test]
    public async Task Services_connect_only_to_the_loopback_ports_they_were_configured_with()
    {
        ConnectTrace.RequireStrace();
        using var traces = new TempFolder("strace");
        await using var stack = await ProcessStack.StartAsync(null, traces.Path, new AgentSpec("agent-s"));

        // A token (the stack's admin client got one; another through the gateway), a VM to SUCCESS, a read.
        await Tokens.AdminClientAsync(stack.Gateway.Url);
        var created = await stack.CreateVmAsync("traced");
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await created.Content.ReadAsStringAsync());
        var task = await stack.WaitForFinalAsync(created.Headers.Location!);
        Assert.That(task.GetProperty("status").GetString(), Is.EqualTo("SUCCESS"), task.ToString());
        Assert.That((await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/admin/agents")).GetArrayLength(), Is.EqualTo(1));

        // Stopped gracefully, so strace has written everything (and shutdown paths are traced too).
        foreach (var process in stack.Agents.Append(stack.Orchestrator).Append(stack.Gateway))
            await process.TerminateAsync(TimeSpan.FromSeconds(60));

        var broker = new Uri(TestBroker.BaseUrl);
        var configured = new[] { broker.Port > 0 ? broker.Port : 5672, new Uri(stack.Gateway.Url).Port, new Uri(stack.Orchestrator.Url).Port };
        var connects = Directory.GetFiles(traces.Path, "*.strace")
            .ToDictionary(file => Path.GetFileNameWithoutExtension(file)!, ConnectTrace.Read);
        foreach (var (name, calls) in connects)
            await TestContext.Out.WriteLineAsync($"{name}: " + string.Join(", ", calls.GroupBy(c => $"{c.Address}:{c.Port}").Select(g => $"{g.Key} x{g.Count()}")));

        Assert.Multiple(() =>
        {
            foreach (var (name, calls) in connects)
            {
                Assert.That(calls.Where(c => c.Port == 53).Select(c => c.Line), Is.Empty, $"{name} looked up a name in the DNS");
                Assert.That(calls.Where(c => !c.IsLoopback || !configured.Contains(c.Port)).Select(c => c.Line), Is.Empty,
                    $"{name} connected elsewhere than the loopback ports {string.Join(", ", configured)}");
            }
            // The traces saw the connections that must exist, so an empty trace cannot pass.
            Assert.That(connects["orchestrator"].Any(c => c.Port == configured[0]), Is.True, "the orchestrator's broker connection is traced");
            Assert.That(connects["agent-s-0"].Any(c => c.Port == configured[0]), Is.True, "the agent's broker connection is traced");
            Assert.That(connects["gateway"].Any(c => c.Port == configured[2]), Is.True, "the gateway's proxying to the orchestrator is traced");
        });
    }
}
