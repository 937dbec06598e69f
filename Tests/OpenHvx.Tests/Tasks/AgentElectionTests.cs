using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Tests.Tasks;

/// <summary>Who may be elected: online agents (heartbeats, no stop, a consumer on the queue), not draining, not excluded.</summary>
[TestFixture]
[Category("Unit")]
public sealed class AgentElectionTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly AgentFleetOptions Fleet = new();
    private static readonly QuotaAmounts Small = new(1, 1024, 1024, 1);

    private static AgentRecord Agent(string id, double heartbeatAgeSeconds = 1, long freeCpu = 16, TimeSpan? interval = null, string status = AgentAdminStatus.Active,
        DateTimeOffset? stoppingAt = null, DateTimeOffset? consumersLostAt = null)
        => new(id, "host-" + id, "1.0", Now.AddSeconds(-heartbeatAgeSeconds), [ActionNames.VmCreate], new AgentCapacity(16, 65536, 1_000_000),
            new AgentCapacity(freeCpu, 65536, 1_000_000), 0, new AgentCapacity(0, 0, 0), status, interval, stoppingAt, consumersLostAt);

    private static ElectionDecision Elect(IReadOnlyCollection<string>? excluded = null, params AgentRecord[] agents)
        => AgentElection.Elect(agents, ActionNames.VmCreate, Small, null, Now, new ElectionOptions(), Fleet, excluded);

    private static string? ReasonOf(ElectionDecision decision, string agentId) => decision.Candidates.Single(c => c.AgentId == agentId).Reason;

    [Test]
    public void An_agent_is_offline_after_two_of_its_own_heartbeat_intervals_and_online_before()
    {
        var decision = Elect(null, Agent("slow", heartbeatAgeSeconds: 9.5, interval: TimeSpan.FromSeconds(5)), Agent("late", heartbeatAgeSeconds: 10.5, interval: TimeSpan.FromSeconds(5)));

        Assert.That(decision.AgentId, Is.EqualTo("slow"));
        Assert.That(ReasonOf(decision, "late"), Does.StartWith("offline: no heartbeat for").And.EndsWith("(it sends one every 5 s)"));
    }

    [Test]
    public void An_agent_that_does_not_say_its_interval_is_judged_by_the_configured_one()
    {
        var decision = Elect(null, Agent("fresh", heartbeatAgeSeconds: 29), Agent("silent", heartbeatAgeSeconds: 31));

        Assert.That(decision.AgentId, Is.EqualTo("fresh"));
        Assert.That(ReasonOf(decision, "silent"), Does.StartWith("offline: no heartbeat"));
    }

    [Test]
    public void An_agent_that_said_it_is_stopping_is_offline_at_once()
    {
        var decision = Elect(null, Agent("stopping", freeCpu: 16, stoppingAt: Now.AddSeconds(-1)), Agent("other", freeCpu: 2));

        Assert.That(decision.AgentId, Is.EqualTo("other"));
        Assert.That(ReasonOf(decision, "stopping"), Does.StartWith("offline: stopped: the agent said it was shutting down"));
    }

    [Test]
    public void An_agent_whose_task_queue_has_no_consumer_is_offline_even_with_a_fresh_heartbeat()
    {
        var decision = Elect(null, Agent("killed", freeCpu: 16, consumersLostAt: Now.AddSeconds(-1)), Agent("other", freeCpu: 2));

        Assert.That(decision.AgentId, Is.EqualTo("other"));
        Assert.That(ReasonOf(decision, "killed"), Does.StartWith("offline: nothing consumes its task queue"));
    }

    [Test]
    public void A_draining_agent_is_never_elected_even_when_pinned()
    {
        var decision = AgentElection.Elect([Agent("drained", status: AgentAdminStatus.Draining)], ActionNames.VmCreate, Small, "drained", Now, new ElectionOptions(), Fleet);

        Assert.That(decision.AgentId, Is.Null);
        Assert.That(ReasonOf(decision, "drained"), Is.EqualTo("draining"));
    }

    [Test]
    public void An_agent_that_did_not_start_the_task_before_is_not_elected_for_it_again()
    {
        var decision = Elect(["first"], Agent("first", freeCpu: 16), Agent("second", freeCpu: 2));

        Assert.That(decision.AgentId, Is.EqualTo("second"));
        Assert.That(ReasonOf(decision, "first"), Is.EqualTo("did not start this task in time before"));
    }
}
