using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Tests.Persistence;

/// <summary>
/// The contract of <see cref="Orchestrator.Retention.IRetentionStore"/>: ended tasks past their age move to the archive with their
/// timeline and leave nothing keyed by them behind; expired idempotency keys go and no longer replay; settled ledger rows of ended
/// tasks go while the counters, and so usage and a recount, stay the same.
/// </summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class RetentionContractTests(string family) : StoreContract(family)
{
    private static readonly TimeSpan NinetyDays = TimeSpan.FromDays(90);
    private static readonly QuotaAmounts Limits = new(16, 65536, 1_000_000, 8);
    private static readonly QuotaAmounts Vm = new(2, 2048, 10240, 1);

    private DateTimeOffset Now => Clock.GetUtcNow();

    private async Task<TaskState> TaskAsync(string status, string state, string tenant = "acme")
    {
        var task = new TaskState
        {
            CorrelationId = Guid.NewGuid(), CurrentState = state, Status = status, TenantId = tenant, Action = "vm.create",
            Data = JsonSerializer.SerializeToElement(new { name = "web1" }), CreatedAt = Now, UpdatedAt = Now,
        };
        task.Timeline.Add(new TimelineEntry("Validating", TaskStatuses.Pending, Now));
        task.Timeline.Add(new TimelineEntry(state, status, Now));
        Assert.That(await _stores.Tasks.TryInsertAsync(task, None), Is.True);
        await _stores.Events.AppendAsync(new TaskStateChanged(task.CorrelationId, tenant, task.Action, "Validating", state, status, Now, null), None);
        return task;
    }

    private async Task<IReadOnlyList<TaskEvent>> EventsOfAsync(Guid taskId)
        => await _stores.Events.ReadAsync(new TaskEventQuery(0, 100, TaskId: taskId), None);

    [Test]
    public async Task An_ended_task_past_its_age_is_archived_with_its_timeline_and_nothing_keyed_by_it_is_left()
    {
        var ended = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        var running = await TaskAsync(TaskStatuses.Running, "AwaitingResult");
        await _stores.Agents.PlaceAsync(new AgentPlacement(ended.CorrelationId, "agent-1", new AgentCapacity(2, 2048, 10240)), None);
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", ended.CorrelationId, None), Is.True);
        await _stores.Outbox.AddAsync(new AgentTask(ended.CorrelationId, "acme", "agent-1", "vm.create", ended.Data, ended.CorrelationId.ToString()), Now, None);
        Clock.Advance(NinetyDays + TimeSpan.FromDays(1));
        var young = await TaskAsync(TaskStatuses.Failed, "Failed");

        var archived = await _stores.Retention.ArchiveFinishedTasksAsync(Now - NinetyDays, 500, None);

        Assert.That(archived, Is.EqualTo(1));
        Assert.That(await _stores.Tasks.LoadAsync(ended.CorrelationId, None), Is.Null, "out of the live tasks");
        var read = (await _stores.Retention.LoadArchivedAsync(ended.CorrelationId, None))!;
        Assert.That((read.Status, read.TenantId, read.Timeline.Count), Is.EqualTo((TaskStatuses.Succeeded, "acme", 2)), "the archive holds the document and its timeline");
        Assert.That(await EventsOfAsync(ended.CorrelationId), Is.Empty, "its task events are gone");
        Assert.That(await _stores.Agents.GetPlacementAsync(ended.CorrelationId, None), Is.Null, "its placement");
        Assert.That(await _stores.Resources.TryLockAsync("vm-1", Guid.NewGuid(), None), Is.True, "its VM lock");
        Assert.That((await _stores.Outbox.ListAsync(Now, 10, None)).Select(t => t.TaskId), Does.Not.Contain(ended.CorrelationId), "its outbox entry");

        Assert.That(await _stores.Tasks.LoadAsync(running.CorrelationId, None), Is.Not.Null, "a task not ended stays, however old");
        Assert.That(await EventsOfAsync(running.CorrelationId), Has.Count.EqualTo(1), "with its events");
        Assert.That(await _stores.Tasks.LoadAsync(young.CorrelationId, None), Is.Not.Null, "an ended task younger than the age stays");
        Assert.That(await _stores.Retention.LoadArchivedAsync(running.CorrelationId, None), Is.Null);
        Assert.That(await _stores.Tasks.QueryAsync(new Orchestrator.Persistence.TaskQuery { Limit = 10 }, None), Has.Count.EqualTo(2), "lists hold live tasks only");
    }

    [Test]
    public async Task Archiving_goes_in_batches_of_the_given_size()
    {
        for (var i = 0; i < 5; i++)
            await TaskAsync(TaskStatuses.Canceled, "Canceled");
        Clock.Advance(NinetyDays);

        var batches = new List<int>();
        for (var i = 0; i < 4; i++)
            batches.Add(await _stores.Retention.ArchiveFinishedTasksAsync(Now - NinetyDays, 2, None));

        Assert.That(batches, Is.EqualTo(new[] { 2, 2, 1, 0 }));
    }

    [Test]
    public async Task An_idempotency_key_past_its_age_no_longer_replays_even_before_it_is_deleted()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", first, None), Is.Null);
        await _stores.Idempotency.SaveAnswerAsync("acme", "key-1", first, 202, "{}", None);

        Clock.Advance(TimeSpan.FromHours(23));
        Assert.That((await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", Guid.NewGuid(), None))?.TaskId, Is.EqualTo(first), "replays within 24 hours");

        Clock.Advance(TimeSpan.FromHours(1));
        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", second, None), Is.Null, "24 hours on: claimed anew");
        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "other", Guid.NewGuid(), None),
            Is.EqualTo(new IdempotencyRecord("hash", second, null, null)), "the new claim replays, without the old answer");
    }

    [Test]
    public async Task Idempotency_keys_past_their_age_are_deleted_and_younger_ones_kept()
    {
        await _stores.Idempotency.TryClaimAsync("acme", "old", "hash", Guid.NewGuid(), None);
        Clock.Advance(TimeSpan.FromHours(20));
        var kept = Guid.NewGuid();
        await _stores.Idempotency.TryClaimAsync("acme", "young", "hash", kept, None);
        Clock.Advance(TimeSpan.FromHours(5));

        Assert.That(await _stores.Retention.DeleteIdempotencyKeysAsync(Now - TimeSpan.FromHours(24), 500, None), Is.EqualTo(1));

        Assert.That((await _stores.Idempotency.TryClaimAsync("acme", "young", "hash", Guid.NewGuid(), None))?.TaskId, Is.EqualTo(kept));
        Assert.That(await _stores.Retention.DeleteIdempotencyKeysAsync(Now - TimeSpan.FromHours(24), 500, None), Is.Zero);
    }

    [Test]
    public async Task Settled_holds_of_ended_tasks_are_compacted_while_usage_and_a_recount_stay_the_same()
    {
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None), Is.True);
        var created = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        var refused = await TaskAsync(TaskStatuses.Failed, "Failed");
        var archived = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        var undone = await TaskAsync(TaskStatuses.Running, "AwaitingResult");
        var live = await TaskAsync(TaskStatuses.Running, "AwaitingResult");
        foreach (var task in new[] { created, refused, archived, undone, live })
            Assert.That((await _stores.Ledger.TryHoldAsync(task.CorrelationId, "acme", "agent-1", Vm, TimeSpan.FromDays(30))).Held, Is.True);
        await _stores.Ledger.CommitAsync(created.CorrelationId, "acme", Vm);
        await _stores.Ledger.ReleaseAsync(refused.CorrelationId);
        await _stores.Ledger.CommitAsync(archived.CorrelationId, "acme", Vm);
        await _stores.Ledger.ReleaseAsync(undone.CorrelationId);
        // Reconciliation found web2 resized by one vCPU: a correction row, and its resource charged its real size.
        var resized = new QuotaAmounts(1, 0, 0, 0);
        await _stores.Ledger.CorrectAsync("acme", "agent-1", resized, "reconcile");
        foreach (var (task, name, charge) in new[] { (created, "web1", Vm), (archived, "web2", Vm with { Cpu = Vm.Cpu + 1 }) })
            await _stores.Resources.LinkAsync(new TenantResource(Guid.NewGuid().ToString(), "acme", "vm", "agent-1", name, task.CorrelationId, false, Now, charge), None);
        Clock.Advance(TimeSpan.FromDays(8));
        await _stores.Retention.ArchiveFinishedTasksAsync(archived.UpdatedAt, 500, None);
        var before = await _stores.Ledger.GetUsageAsync("acme");

        var compacted = await _stores.Retention.CompactSettledHoldsAsync(Now - TimeSpan.FromDays(7), 500, None);

        Assert.That(compacted, Is.EqualTo(3), "committed, released and archived-committed rows of ended tasks");
        foreach (var gone in new[] { created, refused, archived })
            Assert.That(await _stores.Quotas.GetEntryAsync(gone.CorrelationId.ToString(), None), Is.Null);
        Assert.That((await _stores.Quotas.GetEntryAsync(undone.CorrelationId.ToString(), None))?.Status, Is.EqualTo(QuotaHoldStatuses.Released),
            "a settled row of a task not ended yet is kept");
        Assert.That((await _stores.Quotas.GetEntryAsync(live.CorrelationId.ToString(), None))?.Status, Is.EqualTo(QuotaHoldStatuses.Held), "a live hold is kept");
        var after = await _stores.Ledger.GetUsageAsync("acme");
        Assert.That(after, Is.EqualTo(before), "usage and holds read the counters, unchanged");
        Assert.That(after!.Cpu.Used, Is.EqualTo(2 * Vm.Cpu + 1));
        Assert.That((await _stores.ReadLedgerSumsAsync("acme", Now)).Committed, Is.EqualTo(resized), "of the committed rows, the correction is kept");
        var owned = await _stores.Resources.ListAsync("acme", None);
        var recounted = QuotaEndpoints.UsageOf(owned);
        Assert.That((recounted.Cpu, recounted.MemoryMB, recounted.StorageMB, recounted.VmCount),
            Is.EqualTo((after.Cpu.Used, after.MemoryMB.Used, after.StorageMB.Used, after.VmCount.Used)), "a recount finds no drift");
    }

    [Test]
    public async Task Settled_holds_of_ended_tasks_are_compacted_past_more_than_a_batch_of_older_settled_holds_of_tasks_still_running()
    {
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None), Is.True);
        const int batch = 2;
        var running = new List<TaskState>();
        for (var i = 0; i < 2 * batch + 1; i++)
        {
            // A hold released while its task goes on (its agent refused it, the task waits for another): settled, not compactable.
            var task = await TaskAsync(TaskStatuses.Running, "AwaitingResult");
            Assert.That((await _stores.Ledger.TryHoldAsync(task.CorrelationId, "acme", "agent-1", Vm, TimeSpan.FromDays(30))).Held, Is.True);
            await _stores.Ledger.ReleaseAsync(task.CorrelationId);
            running.Add(task);
        }
        Clock.Advance(TimeSpan.FromHours(1));
        var ended = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        Assert.That((await _stores.Ledger.TryHoldAsync(ended.CorrelationId, "acme", "agent-1", Vm, TimeSpan.FromDays(30))).Held, Is.True);
        await _stores.Ledger.CommitAsync(ended.CorrelationId, "acme", Vm);
        Clock.Advance(TimeSpan.FromDays(8));

        Assert.That(await _stores.Retention.CompactSettledHoldsAsync(Now - TimeSpan.FromDays(7), batch, None), Is.EqualTo(1),
            "the ended task's row, though older rows of running tasks fill more than a batch");
        Assert.That(await _stores.Quotas.GetEntryAsync(ended.CorrelationId.ToString(), None), Is.Null);
        foreach (var task in running)
            Assert.That((await _stores.Quotas.GetEntryAsync(task.CorrelationId.ToString(), None))?.Status, Is.EqualTo(QuotaHoldStatuses.Released));
        Assert.That(await _stores.Retention.CompactSettledHoldsAsync(Now - TimeSpan.FromDays(7), batch, None), Is.Zero);
    }

    [Test]
    public async Task Settled_holds_younger_than_their_age_are_kept()
    {
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None), Is.True);
        var task = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        await _stores.Ledger.TryHoldAsync(task.CorrelationId, "acme", "agent-1", Vm, TimeSpan.FromDays(30));
        await _stores.Ledger.CommitAsync(task.CorrelationId, "acme", Vm);
        Clock.Advance(TimeSpan.FromDays(6));

        Assert.That(await _stores.Retention.CompactSettledHoldsAsync(Now - TimeSpan.FromDays(7), 500, None), Is.Zero);
        Assert.That(await _stores.Quotas.GetEntryAsync(task.CorrelationId.ToString(), None), Is.Not.Null);
    }

    [Test]
    public async Task Deleting_a_tenant_deletes_its_archived_tasks()
    {
        Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant("acme", "Acme", Tenant.Active, Limits), None), Is.True);
        var task = await TaskAsync(TaskStatuses.Succeeded, "Succeeded");
        Clock.Advance(NinetyDays);
        await _stores.Retention.ArchiveFinishedTasksAsync(Now - NinetyDays, 500, None);

        Assert.That(await _stores.Tenants.DeleteAsync("acme", None), Is.True);

        Assert.That(await _stores.Retention.LoadArchivedAsync(task.CorrelationId, None), Is.Null);
    }
}
