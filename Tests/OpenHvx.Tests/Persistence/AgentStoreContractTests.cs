using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.MixedFleet;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IAgentStore"/>: the registry, placements and inventories.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class AgentStoreContractTests(string family) : StoreContract(family)
{
    private static readonly AgentCapacity Nothing = new(0, 0, 0);

    private static AgentHeartbeat Heartbeat(string agentId, string host, DateTimeOffset at, AgentCapacity? free = null, int vms = 0, params string[] capabilities)
        => new("1.0." + vms, agentId, at, host, capabilities.Length == 0 ? ["hyperv"] : capabilities, new AgentCapacity(32, 131072, 2_000_000),
            free ?? new AgentCapacity(30, 120000, 1_900_000), vms);

    private async Task RecordAsync(AgentHeartbeat heartbeat) => await _stores.Agents.RecordHeartbeatAsync(heartbeat, heartbeat.Ts, None);

    [Test]
    public async Task A_heartbeat_creates_the_agent_and_a_newer_one_replaces_its_record()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-1", "host-a", t0, vms: 1, capabilities: ["hyperv", "gen2"]));
        var newer = new AgentHeartbeat("2.0", "agent-1", t0.AddSeconds(10), "host-b", ["hyperv"], new AgentCapacity(16, 65536, 1_000_000), null, 4);
        await RecordAsync(newer);

        var agent = (await _stores.Agents.GetAsync("agent-1", None))!;

        Assert.That((agent.AgentId, agent.Host, agent.Version, agent.LastHeartbeatAt, agent.VmCount), Is.EqualTo(("agent-1", "host-b", "2.0", t0.AddSeconds(10), 4)));
        Assert.That(agent.Capabilities, Is.EqualTo(new[] { "hyperv" }));
        Assert.That((agent.Capacity, agent.Free, agent.InFlight), Is.EqualTo((new AgentCapacity(16, 65536, 1_000_000), (AgentCapacity?)null, Nothing)));
    }

    [Test]
    public async Task An_older_heartbeat_does_not_replace_a_newer_one()
    {
        var t0 = Clock.GetUtcNow();
        var newer = Heartbeat("agent-1", "host-new", t0, new AgentCapacity(10, 10000, 100000), vms: 3, "hyperv", "gen2");
        await RecordAsync(newer);

        await RecordAsync(Heartbeat("agent-1", "host-old", t0.AddSeconds(-5), new AgentCapacity(1, 1, 1), vms: 9));

        var agent = (await _stores.Agents.GetAsync("agent-1", None))!;
        Assert.That((agent.Host, agent.LastHeartbeatAt, agent.Free, agent.VmCount), Is.EqualTo(("host-new", t0, new AgentCapacity(10, 10000, 100000), 3)));
        Assert.That(agent.Capabilities, Is.EqualTo(new[] { "hyperv", "gen2" }));
    }

    [Test]
    public async Task List_returns_every_agent_by_id_and_get_finds_one()
    {
        var now = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-b", "host-b", now));
        await RecordAsync(Heartbeat("agent-a", "host-a", now));
        await RecordAsync(Heartbeat("agent-c", "host-c", now));

        Assert.That((await _stores.Agents.ListAsync(None)).Select(a => a.AgentId), Is.EqualTo(new[] { "agent-a", "agent-b", "agent-c" }));
        Assert.That((await _stores.Agents.GetAsync("agent-b", None))?.Host, Is.EqualTo("host-b"));
        Assert.That(await _stores.Agents.GetAsync("agent-x", None), Is.Null);
    }

    [Test]
    public async Task An_election_sees_other_tasks_placements_summed_per_agent_and_not_its_own()
    {
        var now = Clock.GetUtcNow();
        foreach (var id in new[] { "agent-a", "agent-b", "agent-c" })
            await RecordAsync(Heartbeat(id, "host", now));
        var electing = Guid.NewGuid();
        await _stores.Agents.PlaceAsync(new AgentPlacement(electing, "agent-a", new AgentCapacity(8, 8000, 80000)), None);
        await _stores.Agents.PlaceAsync(new AgentPlacement(Guid.NewGuid(), "agent-a", new AgentCapacity(2, 2048, 10240)), None);
        await _stores.Agents.PlaceAsync(new AgentPlacement(Guid.NewGuid(), "agent-a", new AgentCapacity(1, 1024, 5120)), None);
        await _stores.Agents.PlaceAsync(new AgentPlacement(Guid.NewGuid(), "agent-b", new AgentCapacity(4, 4096, 20480)), None);
        // A placement on an agent that has never sent a heartbeat is counted, though no election will find that agent.
        await _stores.Agents.PlaceAsync(new AgentPlacement(Guid.NewGuid(), "agent-gone", new AgentCapacity(4, 4096, 20480)), None);

        var election = await _stores.Agents.InFlightAsync(electing, None);
        var listed = (await _stores.Agents.ListAsync(None)).ToDictionary(a => a.AgentId, a => a.InFlight);

        Assert.That(election, Is.EquivalentTo(new Dictionary<string, AgentCapacity>
        {
            ["agent-a"] = new(3, 3072, 15360),
            ["agent-b"] = new(4, 4096, 20480),
            ["agent-gone"] = new(4, 4096, 20480),
        }));
        Assert.That(listed["agent-c"], Is.EqualTo(Nothing));
        Assert.That(listed["agent-a"], Is.EqualTo(new AgentCapacity(11, 11072, 95360)), "the registry's view counts every placement");
    }

    [Test]
    public async Task The_registry_version_moves_when_an_election_would_read_something_new_and_not_for_a_repeated_heartbeat()
    {
        var t0 = Clock.GetUtcNow();
        var start = await _stores.Agents.RegistryVersionAsync(None);

        await RecordAsync(Heartbeat("agent-1", "host-a", t0));
        var registered = await _stores.Agents.RegistryVersionAsync(None);
        await RecordAsync(Heartbeat("agent-1", "host-a", t0.AddSeconds(10)));
        var repeated = await _stores.Agents.RegistryVersionAsync(None);
        await RecordAsync(Heartbeat("agent-1", "host-a", t0.AddSeconds(20), new AgentCapacity(29, 120000, 1_900_000)));
        var lessFree = await _stores.Agents.RegistryVersionAsync(None);
        await _stores.Agents.SetStatusAsync("agent-1", AgentAdminStatus.Draining, None);
        var drained = await _stores.Agents.RegistryVersionAsync(None);
        await _stores.Agents.SetConsumersLostAsync("agent-1", t0.AddSeconds(21), None);
        var lost = await _stores.Agents.RegistryVersionAsync(None);
        await _stores.Agents.SetStatusAsync("agent-unknown", AgentAdminStatus.Draining, None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(registered, Is.GreaterThan(start), "a new agent");
            Assert.That(repeated, Is.EqualTo(registered), "a heartbeat that repeats the last one");
            Assert.That(lessFree, Is.GreaterThan(repeated), "a heartbeat with less free");
            Assert.That(drained, Is.GreaterThan(lessFree), "a status");
            Assert.That(lost, Is.GreaterThan(drained), "a lost consumer");
            Assert.That(await _stores.Agents.RegistryVersionAsync(None), Is.EqualTo(lost), "no agent, no change");
        }
    }

    [Test]
    public async Task A_repeated_heartbeat_after_a_silence_moves_the_registry_version()
    {
        var t0 = Clock.GetUtcNow();
        // Stated interval 10 s: a silence counts from 15 s on.
        AgentHeartbeat Every10s(DateTimeOffset at) => Heartbeat("agent-1", "host-a", at) with { IntervalSeconds = 10 };
        await RecordAsync(Every10s(t0));
        var first = await _stores.Agents.RegistryVersionAsync(None);

        await RecordAsync(Every10s(t0.AddSeconds(14)));
        var onTime = await _stores.Agents.RegistryVersionAsync(None);
        await RecordAsync(Every10s(t0.AddSeconds(30)));
        var afterSilence = await _stores.Agents.RegistryVersionAsync(None);

        Assert.That((onTime, afterSilence > onTime), Is.EqualTo((first, true)));
    }

    [Test]
    public async Task Place_stores_a_placement_and_placing_again_moves_it()
    {
        var now = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", now));
        await RecordAsync(Heartbeat("agent-b", "host-b", now));
        var taskId = Guid.NewGuid();

        await _stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-a", new AgentCapacity(2, 2048, 10240)), None);
        Assert.That(await _stores.Agents.GetPlacementAsync(taskId, None), Is.EqualTo(new AgentPlacement(taskId, "agent-a", new AgentCapacity(2, 2048, 10240))));

        await _stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-b", new AgentCapacity(4, 4096, 20480)), None);

        Assert.That(await _stores.Agents.GetPlacementAsync(taskId, None), Is.EqualTo(new AgentPlacement(taskId, "agent-b", new AgentCapacity(4, 4096, 20480))));
        var election = await _stores.Agents.InFlightAsync(Guid.NewGuid(), None);
        Assert.That(election, Is.EquivalentTo(new Dictionary<string, AgentCapacity> { ["agent-b"] = new(4, 4096, 20480) }), "one placement per task");
    }

    [Test]
    public async Task Releasing_a_placement_is_idempotent()
    {
        await RecordAsync(Heartbeat("agent-a", "host-a", Clock.GetUtcNow()));
        var released = Guid.NewGuid();
        var kept = Guid.NewGuid();
        await _stores.Agents.PlaceAsync(new AgentPlacement(released, "agent-a", new AgentCapacity(2, 2048, 10240)), None);
        await _stores.Agents.PlaceAsync(new AgentPlacement(kept, "agent-a", new AgentCapacity(1, 1024, 5120)), None);

        await _stores.Agents.ReleasePlacementAsync(released, None);
        await _stores.Agents.ReleasePlacementAsync(released, None);
        await _stores.Agents.ReleasePlacementAsync(Guid.NewGuid(), None);

        Assert.That(await _stores.Agents.GetPlacementAsync(released, None), Is.Null);
        Assert.That((await _stores.Agents.GetPlacementAsync(kept, None))?.AgentId, Is.EqualTo("agent-a"));
        Assert.That((await _stores.Agents.InFlightAsync(Guid.NewGuid(), None))["agent-a"], Is.EqualTo(new AgentCapacity(1, 1024, 5120)));
    }

    [Test]
    public async Task A_settled_placement_counts_until_a_heartbeat_measured_after_the_task_finished()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        var finished = Guid.NewGuid();
        var running = Guid.NewGuid();
        await _stores.Agents.PlaceAsync(new AgentPlacement(finished, "agent-a", new AgentCapacity(2, 20480, 10240)), None);
        await _stores.Agents.PlaceAsync(new AgentPlacement(running, "agent-a", new AgentCapacity(1, 1024, 5120)), None);

        await _stores.Agents.SettlePlacementAsync(finished, t0.AddSeconds(10), None);
        // Measured before the task finished (received later, as heartbeats are): it cannot show the new VM yet.
        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(9)), t0.AddSeconds(11), None);
        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.InFlight, Is.EqualTo(new AgentCapacity(3, 21504, 15360)), "still counted");

        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(10)), t0.AddSeconds(12), None);

        Assert.That(await _stores.Agents.GetPlacementAsync(finished, None), Is.Null, "the heartbeat shows it: the placement goes");
        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.InFlight, Is.EqualTo(new AgentCapacity(1, 1024, 5120)), "the running task still counts");
    }

    [Test]
    public async Task A_heartbeat_measured_earlier_but_handled_later_neither_replaces_the_record_nor_lets_go_of_a_placement()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        var taskId = Guid.NewGuid();
        await _stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-a", new AgentCapacity(2, 20480, 10240)), None);
        await _stores.Agents.SettlePlacementAsync(taskId, t0.AddSeconds(15), None);
        // Measured at 25 s (shows the VM): handled first.
        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(25), new AgentCapacity(28, 100000, 1_800_000), vms: 1), t0.AddSeconds(26), None);
        Assert.That(await _stores.Agents.GetPlacementAsync(taskId, None), Is.Null);

        // Measured at 10 s, before the VM existed, and handled after.
        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(10), new AgentCapacity(30, 120000, 1_900_000), vms: 0), t0.AddSeconds(27), None);

        var agent = (await _stores.Agents.GetAsync("agent-a", None))!;
        Assert.That((agent.Free, agent.VmCount), Is.EqualTo((new AgentCapacity(28, 100000, 1_800_000), 1)), "the later measurement stands");
    }

    [Test]
    public async Task Another_agents_heartbeat_does_not_let_go_of_a_settled_placement()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        var taskId = Guid.NewGuid();
        await _stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-a", new AgentCapacity(2, 2048, 10240)), None);
        await _stores.Agents.SettlePlacementAsync(taskId, t0.AddSeconds(1), None);

        await RecordAsync(Heartbeat("agent-b", "host-b", t0.AddSeconds(30)));

        Assert.That(await _stores.Agents.GetPlacementAsync(taskId, None), Is.Not.Null);
    }

    [Test]
    public async Task An_admin_status_is_kept_across_heartbeats_and_unknown_agents_are_reported()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.Status, Is.EqualTo(AgentAdminStatus.Active));

        Assert.That(await _stores.Agents.SetStatusAsync("agent-a", AgentAdminStatus.Draining, None), Is.True);
        await RecordAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(5)));

        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.Status, Is.EqualTo(AgentAdminStatus.Draining));
        Assert.That(await _stores.Agents.SetStatusAsync("agent-x", AgentAdminStatus.Draining, None), Is.False);
    }

    [Test]
    public async Task An_agents_generation_is_kept_as_its_last_heartbeat_gave_it_and_is_current_when_none_was_given()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        var unsaid = (await _stores.Agents.GetAsync("agent-a", None))!.Generation;
        await RecordAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(1)) with { Generation = AgentGenerations.Original });
        var original = (await _stores.Agents.GetAsync("agent-a", None))!.Generation;
        await RecordAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(2)) with { Generation = AgentGenerations.Current });

        Assert.That(unsaid, Is.EqualTo(AgentGenerations.Current));
        Assert.That(original, Is.EqualTo(AgentGenerations.Original));
        Assert.That((await _stores.Agents.ListAsync(None)).Single().Generation, Is.EqualTo(AgentGenerations.Current));
    }

    [Test]
    public async Task A_stopping_heartbeat_is_recorded_and_the_next_active_one_clears_it_with_its_interval()
    {
        var t0 = Clock.GetUtcNow();
        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0) with { Status = AgentStatuses.Stopping, IntervalSeconds = 3 }, t0, None);
        var stopping = (await _stores.Agents.GetAsync("agent-a", None))!;
        Assert.That((stopping.StoppingAt, stopping.HeartbeatInterval), Is.EqualTo(((DateTimeOffset?)t0, (TimeSpan?)TimeSpan.FromSeconds(3))));

        await _stores.Agents.RecordHeartbeatAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(20)) with { Status = AgentStatuses.Active }, t0.AddSeconds(20), None);

        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.StoppingAt, Is.Null);
    }

    [Test]
    public async Task The_brokers_word_on_an_agents_queue_is_kept_until_it_changes_and_survives_heartbeats()
    {
        var t0 = Clock.GetUtcNow();
        await RecordAsync(Heartbeat("agent-a", "host-a", t0));
        await _stores.Agents.SetConsumersLostAsync("agent-a", t0.AddSeconds(1), None);
        await RecordAsync(Heartbeat("agent-a", "host-a", t0.AddSeconds(2)));
        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.ConsumersLostAt, Is.EqualTo((DateTimeOffset?)t0.AddSeconds(1)));

        await _stores.Agents.SetConsumersLostAsync("agent-a", null, None);

        Assert.That((await _stores.Agents.GetAsync("agent-a", None))!.ConsumersLostAt, Is.Null);
    }

    [Test]
    public async Task An_inventory_is_recorded_per_agent_and_replaced_by_the_next_one()
    {
        var t0 = Clock.GetUtcNow();
        var first = JsonSerializer.SerializeToElement(new { schemaVersion = "1.0.0", vms = new[] { new { id = "vm-1", name = "web1" } } });
        var second = JsonSerializer.SerializeToElement(new { schemaVersion = "1.0.0", vms = Array.Empty<object>(), note = "ünïcode $key.with.dots" });
        await _stores.Agents.RecordInventoryAsync("agent-a", first, t0, None);
        await _stores.Agents.RecordInventoryAsync("agent-b", first, t0, None);

        await _stores.Agents.RecordInventoryAsync("agent-a", second, t0.AddMinutes(1), None);

        var a = (await _stores.Agents.GetInventoryAsync("agent-a", None))!.Value;
        var b = (await _stores.Agents.GetInventoryAsync("agent-b", None))!.Value;
        Assert.That((a.Inventory.GetRawText(), a.At), Is.EqualTo((second.GetRawText(), t0.AddMinutes(1))));
        Assert.That((b.Inventory.GetRawText(), b.At), Is.EqualTo((first.GetRawText(), t0)));
        Assert.That(await _stores.Agents.GetInventoryAsync("agent-x", None), Is.Null);
    }
}
