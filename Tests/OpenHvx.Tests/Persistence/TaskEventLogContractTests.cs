using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Tests.Persistence;

/// <summary>
/// The contract of <see cref="ITaskEventLog"/>: events are numbered in commit order, read after a number without gaps, by tenant or
/// task, and exist only when their transaction committed.
/// </summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class TaskEventLogContractTests(string family) : StoreContract(family)
{
    private TaskStateChanged Change(Guid taskId, string tenantId, string to, string status, string? errorCode = null)
        => new(taskId, tenantId, "vm.create", "Dispatching", to, status, Clock.GetUtcNow(), errorCode);

    private Task<long> AppendAsync(TaskStateChanged change)
        => _stores.Transactions.InTransactionAsync(() => _stores.Events.AppendAsync(change, None), None);

    [Test]
    public async Task Events_are_numbered_in_order_and_read_whole_after_a_number()
    {
        var task = Guid.NewGuid();
        Assert.That(await _stores.Events.LastSequenceAsync(None), Is.Zero, "an empty log");
        var first = await AppendAsync(Change(task, "t1", "AwaitingResult", TaskStatuses.Sent));
        var second = await AppendAsync(Change(task, "t1", "Failed", TaskStatuses.Failed, "ERR_SCRIPT"));

        Assert.That(second, Is.GreaterThan(first));
        Assert.That(await _stores.Events.LastSequenceAsync(None), Is.EqualTo(second));
        var all = await _stores.Events.ReadAsync(new TaskEventQuery(0, 10), None);
        Assert.That(all, Is.EqualTo(new[]
        {
            new TaskEvent(first, task, "t1", "vm.create", "Dispatching", "AwaitingResult", TaskStatuses.Sent, Clock.GetUtcNow(), null),
            new TaskEvent(second, task, "t1", "vm.create", "Dispatching", "Failed", TaskStatuses.Failed, Clock.GetUtcNow(), "ERR_SCRIPT"),
        }));
        Assert.That(all[1].Type, Is.EqualTo("vm.create.FAILED"));
        Assert.That((await _stores.Events.ReadAsync(new TaskEventQuery(first, 10), None)).Select(e => e.Sequence), Is.EqualTo(new[] { second }));
        Assert.That(await _stores.Events.ReadAsync(new TaskEventQuery(second, 10), None), Is.Empty);
    }

    [Test]
    public async Task Events_are_read_by_tenant_or_task_and_a_page_at_a_time()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var a1 = await AppendAsync(Change(a, "t1", "AwaitingResult", TaskStatuses.Sent));
        var b1 = await AppendAsync(Change(b, "t2", "AwaitingResult", TaskStatuses.Sent));
        var a2 = await AppendAsync(Change(a, "t1", "Succeeded", TaskStatuses.Succeeded));

        Assert.That((await _stores.Events.ReadAsync(new TaskEventQuery(0, 10, TenantId: "t1"), None)).Select(e => e.Sequence), Is.EqualTo(new[] { a1, a2 }));
        Assert.That((await _stores.Events.ReadAsync(new TaskEventQuery(0, 10, TaskId: b), None)).Select(e => e.Sequence), Is.EqualTo(new[] { b1 }));
        Assert.That((await _stores.Events.ReadAsync(new TaskEventQuery(0, 10, TenantId: "t2", TaskId: a), None)), Is.Empty, "another tenant's task");
        Assert.That((await _stores.Events.ReadAsync(new TaskEventQuery(a1, 1), None)).Select(e => e.Sequence), Is.EqualTo(new[] { b1 }), "a page of one");
    }

    [Test]
    public async Task An_event_of_a_transaction_that_rolled_back_is_not_in_the_log()
    {
        var kept = await AppendAsync(Change(Guid.NewGuid(), "t1", "AwaitingResult", TaskStatuses.Sent));
        Assert.ThrowsAsync<InvalidOperationException>(() => _stores.Transactions.InTransactionAsync<long>(async () =>
        {
            await _stores.Events.AppendAsync(Change(Guid.NewGuid(), "t1", "AwaitingResult", TaskStatuses.Sent), None);
            throw new InvalidOperationException("the transition failed");
        }, None));
        var after = await AppendAsync(Change(Guid.NewGuid(), "t1", "AwaitingResult", TaskStatuses.Sent));

        var read = await _stores.Events.ReadAsync(new TaskEventQuery(0, 10), None);
        Assert.That(read.Select(e => e.Sequence), Is.EqualTo(new[] { kept, after }));
    }
}
