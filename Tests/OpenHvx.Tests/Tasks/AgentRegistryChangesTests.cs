using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;

namespace OpenHvx.Tests.Tasks;

/// <summary>Which heartbeats change what an election reads (and so move the registry version).</summary>
[TestFixture]
[Category("Unit")]
public sealed class AgentRegistryChangesTests
{
    private static readonly DateTimeOffset Then = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly AgentFleetOptions Fleet = new() { HeartbeatInterval = TimeSpan.FromSeconds(30), MissedHeartbeats = 2 };

    private static readonly AgentRecord Before = new("agent-1", "host-1", "1.0", Then, ["vm.create", "vm"], new AgentCapacity(32, 131072, 2_000_000),
        new AgentCapacity(30, 120000, 1_900_000), 2, new AgentCapacity(0, 0, 0), HeartbeatInterval: TimeSpan.FromSeconds(10));

    private static readonly AgentHeartbeat Same = new("1.0", "agent-1", Then.AddSeconds(10), "host-1", ["vm.create", "vm"],
        new AgentCapacity(32, 131072, 2_000_000), new AgentCapacity(30, 120000, 1_900_000), 2, IntervalSeconds: 10);

    private static bool Changes(AgentHeartbeat heartbeat, double secondsLater = 10, AgentRecord? before = null, AgentFleetOptions? fleet = null)
        => AgentRegistryChanges.ByHeartbeat(before ?? Before, heartbeat, Then.AddSeconds(secondsLater), fleet ?? Fleet);

    [Test]
    public void A_heartbeat_that_repeats_the_last_one_on_time_changes_nothing()
        => Assert.That(Changes(Same), Is.False);

    [Test]
    public void A_new_agent_changes_the_registry()
        => Assert.That(AgentRegistryChanges.ByHeartbeat(null, Same, Then, Fleet), Is.True);

    [Test]
    public void Every_field_an_election_reads_is_a_change()
    {
        var changed = new Dictionary<string, AgentHeartbeat>
        {
            ["host"] = Same with { Host = "host-2" },
            ["version"] = Same with { Version = "1.1" },
            ["capabilities"] = Same with { Capabilities = ["vm.create"] },
            ["capacity"] = Same with { Capacity = new AgentCapacity(64, 131072, 2_000_000) },
            ["free"] = Same with { Free = new AgentCapacity(29, 120000, 1_900_000) },
            ["no free"] = Same with { Free = null },
            ["vm count"] = Same with { VmCount = 3 },
            ["interval"] = Same with { IntervalSeconds = 15 },
            ["stopping"] = Same with { Status = AgentStatuses.Stopping },
            ["generation"] = Same with { Generation = AgentGenerations.Original },
        };

        Assert.That(changed.Where(c => !Changes(c.Value)).Select(c => c.Key), Is.Empty);
    }

    [Test]
    public void The_first_heartbeat_after_a_stop_is_a_change()
        => Assert.That(Changes(Same, before: Before with { StoppingAt = Then }), Is.True);

    [Test]
    public void A_heartbeat_after_one_and_a_half_intervals_of_silence_is_a_change_and_one_just_late_is_not()
        => Assert.That((Changes(Same, secondsLater: 14.9), Changes(Same, secondsLater: 15.1)), Is.EqualTo((false, true)));

    [Test]
    public void An_agent_that_states_no_interval_is_silent_after_one_and_a_half_assumed_intervals()
    {
        var unstated = Before with { HeartbeatInterval = null };
        var heartbeat = Same with { IntervalSeconds = null };

        Assert.That((Changes(heartbeat, 44, unstated), Changes(heartbeat, 46, unstated)), Is.EqualTo((false, true)));
    }

    [Test]
    public void With_one_missed_heartbeat_allowed_a_heartbeat_after_one_interval_of_silence_is_a_change()
    {
        var strict = new AgentFleetOptions { HeartbeatInterval = TimeSpan.FromSeconds(30), MissedHeartbeats = 1 };

        Assert.That((Changes(Same, 9.9, fleet: strict), Changes(Same, 10.1, fleet: strict)), Is.EqualTo((false, true)));
    }
}
