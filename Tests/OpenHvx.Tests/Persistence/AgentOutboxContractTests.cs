using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IAgentOutbox"/>: tasks stored for their agent until it answers.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class AgentOutboxContractTests(string family) : StoreContract(family)
{
    private static AgentTask NewTask(string agentId = "agent-1", string name = "web1", TaskTarget? target = null)
    {
        var id = Guid.NewGuid();
        return new AgentTask(id, "acme", agentId, "vm.create",
            JsonSerializer.SerializeToElement(new { name, cpu = 2, big = 9_000_000_000L, tags = new[] { "a", "b" }, cloudInit = new { runcmd = new[] { "echo \"hi\"" } } }),
            id.ToString(), target);
    }

    private static void AssertSame(AgentTask actual, AgentTask expected)
    {
        Assert.That(actual with { Data = default }, Is.EqualTo(expected with { Data = default }));
        Assert.That(actual.Data.GetRawText(), Is.EqualTo(expected.Data.GetRawText()));
    }

    [Test]
    public async Task An_added_task_round_trips_with_its_data_and_target()
    {
        var created = NewTask();
        var targeted = NewTask("agent-2", "db1", new TaskTarget("vm", Guid.NewGuid().ToString(), "agent-2"));
        await _stores.Outbox.AddAsync(created, Clock.GetUtcNow(), None);
        await _stores.Outbox.AddAsync(targeted, Clock.GetUtcNow().AddSeconds(1), None);

        var listed = await _stores.Outbox.ListAsync(Clock.GetUtcNow().AddMinutes(1), 10, None);

        Assert.That(listed, Has.Count.EqualTo(2));
        AssertSame(listed[0], created);
        AssertSame(listed[1], targeted);
        Assert.That(listed[1].Data.GetProperty("big").GetInt64(), Is.EqualTo(9_000_000_000L));
    }

    [Test]
    public async Task Entries_past_their_pickup_time_are_found_earliest_first_and_those_without_one_never()
    {
        var t0 = Clock.GetUtcNow();
        var late = NewTask() with { Attempt = 2 };
        var later = NewTask();
        var notYet = NewTask();
        await _stores.Outbox.AddAsync(later, t0, t0.AddSeconds(20), None);
        await _stores.Outbox.AddAsync(late, t0, t0.AddSeconds(10), None);
        await _stores.Outbox.AddAsync(notYet, t0, t0.AddSeconds(40), None);
        await _stores.Outbox.AddAsync(NewTask(), t0, None);

        var found = await _stores.Outbox.FindUnpickedAsync(t0.AddSeconds(30), 10, None);

        Assert.That(found.Select(t => (t.TaskId, t.Attempt)), Is.EqualTo(new[] { (late.TaskId, 2), (later.TaskId, 1) }));
        // Re-dispatched without a window: no longer found.
        await _stores.Outbox.AddAsync(late with { Attempt = 3 }, t0.AddSeconds(31), null, None);
        Assert.That((await _stores.Outbox.FindUnpickedAsync(t0.AddSeconds(30), 10, None)).Select(t => t.TaskId), Is.EqualTo(new[] { later.TaskId }));
    }

    [Test]
    public async Task List_returns_entries_stored_before_a_time_oldest_first_up_to_a_limit()
    {
        var t0 = Clock.GetUtcNow();
        var second = NewTask();
        var first = NewTask();
        var third = NewTask();
        var later = NewTask();
        await _stores.Outbox.AddAsync(second, t0.AddSeconds(2), None);
        await _stores.Outbox.AddAsync(later, t0.AddMinutes(10), None);
        await _stores.Outbox.AddAsync(first, t0.AddSeconds(1), None);
        await _stores.Outbox.AddAsync(third, t0.AddSeconds(3), None);

        async Task<Guid[]> Ids(DateTimeOffset before, int limit) => (await _stores.Outbox.ListAsync(before, limit, None)).Select(t => t.TaskId).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Ids(t0.AddMinutes(1), 10), Is.EqualTo(new[] { first.TaskId, second.TaskId, third.TaskId }));
            Assert.That(await Ids(t0.AddMinutes(1), 2), Is.EqualTo(new[] { first.TaskId, second.TaskId }));
            Assert.That(await Ids(t0.AddMilliseconds(2500), 10), Is.EqualTo(new[] { first.TaskId, second.TaskId }));
            Assert.That(await Ids(t0, 10), Is.Empty);
            Assert.That(await Ids(t0.AddHours(1), 10), Is.EqualTo(new[] { first.TaskId, second.TaskId, third.TaskId, later.TaskId }));
        }
    }

    [Test]
    public async Task Adding_a_task_again_replaces_its_entry_and_keeps_its_place()
    {
        var t0 = Clock.GetUtcNow();
        var task = NewTask("agent-1", "web1");
        var other = NewTask();
        await _stores.Outbox.AddAsync(task, t0, None);
        await _stores.Outbox.AddAsync(other, t0.AddSeconds(1), None);
        var moved = task with { AgentId = "agent-2", Data = JsonSerializer.SerializeToElement(new { name = "web1", cpu = 4 }) };

        await _stores.Outbox.AddAsync(moved, t0.AddSeconds(5), None);

        var listed = await _stores.Outbox.ListAsync(t0.AddMinutes(1), 10, None);
        Assert.That(listed.Select(t => t.TaskId), Is.EqualTo(new[] { task.TaskId, other.TaskId }), "one entry per task, still the oldest");
        AssertSame(listed[0], moved);
    }

    [Test]
    public async Task Remove_takes_the_task_out_and_is_idempotent()
    {
        var removed = NewTask();
        var kept = NewTask();
        await _stores.Outbox.AddAsync(removed, Clock.GetUtcNow(), None);
        await _stores.Outbox.AddAsync(kept, Clock.GetUtcNow(), None);

        await _stores.Outbox.RemoveAsync(removed.TaskId, None);
        await _stores.Outbox.RemoveAsync(removed.TaskId, None);
        await _stores.Outbox.RemoveAsync(Guid.NewGuid(), None);

        Assert.That((await _stores.Outbox.ListAsync(Clock.GetUtcNow().AddMinutes(1), 10, None)).Select(t => t.TaskId), Is.EqualTo(new[] { kept.TaskId }));
    }

    [Test]
    public async Task Each_entry_belongs_to_the_orchestrator_that_stored_it_until_a_live_one_adopts_it()
    {
        var first = _stores;
        var second = _stores.Reopen();
        var a = NewTask(name: "a");
        var b = NewTask(name: "b");
        await first.Outbox.AddAsync(a, Clock.GetUtcNow(), None);
        await second.Outbox.AddAsync(b, Clock.GetUtcNow(), None);
        async Task<IEnumerable<Guid>> OwnedBy(StoreSet set) => (await first.Outbox.ListAsync(Clock.GetUtcNow(), 10, None, owner: set.Instance.Id)).Select(t => t.TaskId);

        Assert.That(await OwnedBy(first), Is.EqualTo(new[] { a.TaskId }));
        Assert.That(await OwnedBy(second), Is.EqualTo(new[] { b.TaskId }));
        Assert.That(await first.Outbox.AdoptAsync(first.Instance.Id, new HashSet<string> { first.Instance.Id, second.Instance.Id }, None), Is.Zero,
            "both alive: nothing to adopt");

        Assert.That(await first.Outbox.AdoptAsync(first.Instance.Id, new HashSet<string> { first.Instance.Id }, None), Is.EqualTo(1), "the second is gone");
        Assert.That(await OwnedBy(first), Is.EquivalentTo(new[] { a.TaskId, b.TaskId }));
        Assert.That(await OwnedBy(second), Is.Empty);
    }
}
