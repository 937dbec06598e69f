using System.Net.Http.Json;
using System.Text.Json;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>Orchestrator:Agents:RequireBrokerIdentity=false, for agents that send no user_id (the original Go agent): the body is believed.</summary>
[TestFixture]
[Category("Broker")]
[NonParallelizable]
public sealed class AgentTrustSwitchedOffTests
{
    [Test]
    public async Task Without_required_broker_identity_a_heartbeat_without_user_id_registers_the_agent_it_names()
    {
        await using var stack = await ProcessStack.StartAsync(new Dictionary<string, string> { ["Orchestrator__Agents__RequireBrokerIdentity"] = "false" });
        var heartbeat = JsonSerializer.SerializeToUtf8Bytes(new
        {
            version = "go-1.0",
            agentId = "go-agent",
            ts = DateTimeOffset.UtcNow,
            host = "go-host",
            capabilities = new[] { "vm.create" },
            capacity = new { cpu = 8, memoryMB = 8192, storageMB = 102400 },
            free = new { cpu = 8, memoryMB = 8192, storageMB = 102400 },
            vmCount = 0,
        });

        await using (var connection = await new ConnectionFactory { Uri = new Uri(stack.Broker.Url) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
            await channel.BasicPublishAsync("agent.telemetry", "heartbeat.go-agent", false, new BasicProperties { ContentType = "application/json" }, heartbeat);

        var agent = await Eventually.Get(async () => await stack.Api.GetAsync("/api/v1/admin/agents/go-agent"), r => r.IsSuccessStatusCode, because: "the heartbeat is recorded");
        var body = await agent.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(body.GetProperty("host").GetString(), Is.EqualTo("go-host"));
        Assert.That(await stack.Broker.MessagesInAsync("orchestrator.heartbeats_error"), Is.Zero);
    }
}
