using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
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
        var decision = Elect(null, Agent("fresh", heartbeatAgeSeconds: 59), Agent("silent", heartbeatAgeSeconds: 61));

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
    public void A_draining_agent_gets_no_new_placement_but_still_the_tasks_pinned_to_it()
    {
        var drained = Agent("drained", status: AgentAdminStatus.Draining, freeCpu: 16);

        var free = Elect(null, drained, Agent("other", freeCpu: 2));
        var pinned = AgentElection.Elect([drained], ActionNames.VmCreate, Small, "drained", Now, new ElectionOptions(), Fleet);

        Assert.That(free.AgentId, Is.EqualTo("other"));
        Assert.That(ReasonOf(free, "drained"), Is.EqualTo("draining"));
        Assert.That(pinned.AgentId, Is.EqualTo("drained"), "a VM on a draining host can still be stopped or deleted");
    }

    [Test]
    public void An_interval_an_agent_states_outside_100_ms_to_an_hour_is_not_believed()
    {
        Assert.That(AgentLiveness.StoredIntervalMs(5e11), Is.Null);
        Assert.That(AgentLiveness.StoredIntervalMs(double.NaN), Is.Null);
        Assert.That(AgentLiveness.StoredIntervalMs(0.01), Is.Null);
        Assert.That(AgentLiveness.StoredIntervalMs(15), Is.EqualTo(15000));
    }

    [Test]
    public void An_agent_that_did_not_start_the_task_before_is_not_elected_for_it_again()
    {
        var decision = Elect(["first"], Agent("first", freeCpu: 16), Agent("second", freeCpu: 2));

        Assert.That(decision.AgentId, Is.EqualTo("second"));
        Assert.That(ReasonOf(decision, "first"), Is.EqualTo("did not start this task in time before"));
    }

    [Test]
    public void An_agent_advertising_the_original_capability_names_is_elected_for_the_actions_they_cover()
    {
        var original = Agent("original") with { Capabilities = ["inventory", "vm.power", "vm"], Generation = AgentGenerations.Original };

        Assert.That(AgentElection.Elect([original], ActionNames.InventoryRefresh, QuotaAmounts.Zero, "original", Now, new ElectionOptions(), Fleet).AgentId,
            Is.EqualTo("original"));
        Assert.That(AgentElection.Elect([original], ActionNames.VmEdit, QuotaAmounts.Zero, "original", Now, new ElectionOptions(), Fleet).AgentId,
            Is.EqualTo("original"));
        var create = AgentElection.Elect([original], ActionNames.VmCreate, Small, null, Now, new ElectionOptions(), Fleet);
        Assert.That(ReasonOf(create, "original"), Is.EqualTo("lacks capability vm.create"));
    }

    [Test]
    public void An_original_agent_is_not_elected_for_a_vm_create_while_no_images_folder_is_set()
    {
        AgentRecord[] agents = [Agent("original") with { Generation = AgentGenerations.Original }, Agent("ours", freeCpu: 2)];

        var without = AgentElection.Elect(agents, ActionNames.VmCreate, Small, null, Now, new ElectionOptions(), new AgentFleetOptions());
        var with = AgentElection.Elect(agents, ActionNames.VmCreate, Small, null, Now, new ElectionOptions(),
            new AgentFleetOptions { Original = { ImagesPath = @"D:\openhvx\images" } });

        Assert.That(without.AgentId, Is.EqualTo("ours"));
        Assert.That(ReasonOf(without, "original"), Does.Contain("Orchestrator:Agents:Original:ImagesPath"));
        Assert.That(with.AgentId, Is.EqualTo("original"), "the freer agent once it can build VMs");
    }
}
