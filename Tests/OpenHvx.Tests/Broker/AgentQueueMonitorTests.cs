using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Tests.Persistence;
using OpenHvx.Tests.Support;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Broker;

/// <summary>The agent queue check asks about a bounded number of agents per interval, going round the registry.</summary>
[TestFixture]
[Category("Broker")]
public sealed class AgentQueueMonitorTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Test]
    public async Task Each_interval_asks_about_at_most_its_budget_of_agents_and_the_next_round_sees_a_consumer_come_back()
    {
        await using var broker = await TestBroker.CreateAsync();
        using var folder = new TempFolder(nameof(AgentQueueMonitorTests));
        var stores = new SqliteStoreSet(folder.File("store.db"), new ManualClock(DateTimeOffset.UtcNow));
        var options = new OrchestratorOptions();
        options.Agents.ConsumerChecksPerInterval = 2;
        string[] ids = ["agent-a", "agent-b", "agent-c"];
        var connection = await new ConnectionFactory { Uri = new Uri(broker.Url) }.CreateConnectionAsync();
        await using var _ = connection;
        await using var channel = await connection.CreateChannelAsync();
        foreach (var id in ids)
        {
            await stores.Agents.RecordHeartbeatAsync(new AgentHeartbeat("1.0", id, stores.Clock.GetUtcNow(), "host-" + id, [ActionNames.VmCreate],
                new AgentCapacity(8, 8192, 100_000), new AgentCapacity(8, 8192, 100_000), 0, IntervalSeconds: 15), stores.Clock.GetUtcNow(), None);
            await channel.QueueDeclareAsync(WireTopology.AgentQueue(id), durable: true, exclusive: false, autoDelete: false);
        }
        var keeper = new JobLeaseKeeper(stores.Leases, stores.Instance, stores.Clock, Options.Create(options), NullLogger<JobLeaseKeeper>.Instance);
        using var monitor = new AgentQueueMonitor(new Uri(broker.Url), stores.Agents, keeper, stores.Clock, Options.Create(options), NullLogger<AgentQueueMonitor>.Instance);

        async Task<string[]> LostAsync() => [.. (await stores.Agents.ListAsync(None)).Where(a => a.ConsumersLostAt is not null).Select(a => a.AgentId)];

        await monitor.RunOnceAsync(None);
        var afterFirst = await LostAsync();
        await monitor.RunOnceAsync(None);
        var afterSecond = await LostAsync();
        await channel.BasicConsumeAsync(WireTopology.AgentQueue("agent-a"), autoAck: false, new AsyncDefaultBasicConsumer(channel));
        await monitor.RunOnceAsync(None);
        var afterThird = await LostAsync();
        await monitor.StopAsync(None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(afterFirst, Is.EqualTo(new[] { "agent-a", "agent-b" }), "two agents in the first interval");
            Assert.That(afterSecond, Is.EqualTo(ids), "the third in the next");
            Assert.That(afterThird, Is.EqualTo(new[] { "agent-b", "agent-c" }), "a new round: agent-a is consumed again");
        }
    }
}
