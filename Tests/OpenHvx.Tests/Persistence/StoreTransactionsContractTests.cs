using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IStoreTransactions"/>: every store called inside one transaction is stored whole or not at all.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class StoreTransactionsContractTests(string family) : StoreContract(family)
{
    private const string Tenant = "acme";
    private static readonly QuotaAmounts Amounts = new(2, 2048, 10240, 1);

    private static QuotaLedgerEntry Hold(Guid taskId, DateTimeOffset now)
        => new(taskId.ToString(), Tenant, "agent-1", Amounts, QuotaHoldStatuses.Held, now, now.AddMinutes(10));

    private static AgentTask ForAgent(Guid taskId)
        => new(taskId, Tenant, "agent-1", "vm.create", JsonSerializer.SerializeToElement(new { name = "web1" }), taskId.ToString());

    /// <summary>What dispatching a task writes: the saga row, a quota entry and its counters, a placement, an outbox entry, a name and a VM lock.</summary>
    private async Task WriteADispatchAsync(StoreSet stores, Guid taskId)
    {
        var now = Clock.GetUtcNow();
        Assert.That(await stores.Tasks.TryInsertAsync(new TaskState
        {
            CorrelationId = taskId, CurrentState = "Dispatching", TenantId = Tenant, Action = "vm.create",
            Data = JsonSerializer.SerializeToElement(new { name = "web1" }), CreatedAt = now, UpdatedAt = now,
        }, None), Is.True);
        Assert.That(await stores.Quotas.TryInsertAsync(Hold(taskId, now), None), Is.True);
        await stores.Quotas.AddToCountersAsync(Tenant, QuotaAmounts.Zero, Amounts, None);
        await stores.Agents.PlaceAsync(new AgentPlacement(taskId, "agent-1", new AgentCapacity(2, 2048, 10240)), None);
        await stores.Outbox.AddAsync(ForAgent(taskId), now, None);
        Assert.That(await stores.Resources.TryReserveNameAsync(Tenant, "web1", taskId, None), Is.True);
        Assert.That(await stores.Resources.TryLockAsync("vm-1", taskId, None), Is.True);
    }

    /// <summary>Checks, through <paramref name="stores"/>, that none of <see cref="WriteADispatchAsync"/>'s writes is there (it claims the free name and lock to prove it).</summary>
    private async Task AssertNothingOfTheDispatchAsync(StoreSet stores, Guid taskId)
    {
        var other = Guid.NewGuid();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await stores.Tasks.LoadAsync(taskId, None), Is.Null, "saga row");
            Assert.That(await stores.Quotas.GetEntryAsync(taskId.ToString(), None), Is.Null, "quota entry");
            Assert.That(await stores.Quotas.GetCountersAsync(Tenant, None), Is.EqualTo(QuotaCounters.Zero), "quota counters");
            Assert.That(await stores.Agents.GetPlacementAsync(taskId, None), Is.Null, "placement");
            Assert.That(await stores.Outbox.ListAsync(Clock.GetUtcNow().AddDays(1), 10, None), Is.Empty, "outbox");
            Assert.That(await stores.Resources.TryReserveNameAsync(Tenant, "WEB1", other, None), Is.True, "the name is free");
            Assert.That(await stores.Resources.TryLockAsync("vm-1", other, None), Is.True, "the VM lock is free");
        }
    }

    private async Task AssertAllOfTheDispatchAsync(StoreSet stores, Guid taskId)
    {
        var other = Guid.NewGuid();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await stores.Tasks.LoadAsync(taskId, None), Is.Not.Null, "saga row");
            Assert.That((await stores.Quotas.GetEntryAsync(taskId.ToString(), None))?.Amounts, Is.EqualTo(Amounts), "quota entry");
            Assert.That(await stores.Quotas.GetCountersAsync(Tenant, None), Is.EqualTo(new QuotaCounters(QuotaAmounts.Zero, Amounts)), "quota counters");
            Assert.That((await stores.Agents.GetPlacementAsync(taskId, None))?.AgentId, Is.EqualTo("agent-1"), "placement");
            Assert.That((await stores.Outbox.ListAsync(Clock.GetUtcNow().AddDays(1), 10, None)).Select(t => t.TaskId), Is.EqualTo(new[] { taskId }), "outbox");
            Assert.That(await stores.Resources.TryReserveNameAsync(Tenant, "WEB1", other, None), Is.False, "the name is taken");
            Assert.That(await stores.Resources.TryLockAsync("vm-1", other, None), Is.False, "the VM is locked");
        }
    }

    [Test]
    public async Task Work_that_completes_is_stored_whole_and_seen_by_another_store_instance()
    {
        var taskId = Guid.NewGuid();

        var result = await _stores.Transactions.InTransactionAsync(async () =>
        {
            await WriteADispatchAsync(_stores, taskId);
            return 42;
        }, None);

        Assert.That(result, Is.EqualTo(42));
        await AssertAllOfTheDispatchAsync(_stores.Reopen(), taskId);
    }

    [Test]
    public async Task Work_that_throws_leaves_nothing_written_by_any_store_called_inside_it()
    {
        var taskId = Guid.NewGuid();

        var thrown = Assert.ThrowsAsync<InvalidOperationException>(() => _stores.Transactions.InTransactionAsync<int>(async () =>
        {
            await WriteADispatchAsync(_stores, taskId);
            throw new InvalidOperationException("a step failed");
        }, None));

        Assert.That(thrown!.Message, Is.EqualTo("a step failed"), "the work's own exception reaches the caller");
        Assert.That(await _stores.Quotas.GetEntryAsync(taskId.ToString(), None), Is.Null, "nothing seen by the instance that rolled back either");
        await AssertNothingOfTheDispatchAsync(_stores.Reopen(), taskId);
    }

    [Test]
    public async Task A_nested_transaction_joins_the_outer_one_so_the_outer_rollback_undoes_the_inner_writes()
    {
        var taskId = Guid.NewGuid();
        var innerAfterCommitRan = false;

        Assert.ThrowsAsync<InvalidOperationException>(() => _stores.Transactions.InTransactionAsync<int>(async () =>
        {
            var inner = await _stores.Transactions.InTransactionAsync(async () =>
            {
                await WriteADispatchAsync(_stores, taskId);
                _stores.Transactions.AfterCommit(() =>
                {
                    innerAfterCommitRan = true;
                    return Task.CompletedTask;
                });
                return "inner done";
            }, None);
            Assert.That(inner, Is.EqualTo("inner done"));
            throw new InvalidOperationException("the outer work failed after the inner one returned");
        }, None));

        Assert.That(innerAfterCommitRan, Is.False, "the inner work's after-commit action must not run: nothing was committed");
        await AssertNothingOfTheDispatchAsync(_stores.Reopen(), taskId);
    }

    [Test]
    public async Task A_nested_transaction_commits_with_the_outer_one_and_its_after_commit_action_runs_after_that()
    {
        var innerTask = Guid.NewGuid();
        var outerTask = Guid.NewGuid();
        var fresh = _stores.Reopen();
        (bool Inner, bool Outer)? seenAfterCommit = null;

        await _stores.Transactions.InTransactionAsync(async () =>
        {
            await _stores.Transactions.InTransactionAsync(async () =>
            {
                await _stores.Quotas.TryInsertAsync(Hold(innerTask, Clock.GetUtcNow()), None);
                _stores.Transactions.AfterCommit(async () =>
                    seenAfterCommit = (await fresh.Quotas.GetEntryAsync(innerTask.ToString(), None) is not null,
                        await fresh.Quotas.GetEntryAsync(outerTask.ToString(), None) is not null));
                return true;
            }, None);
            Assert.That(await fresh.Quotas.GetEntryAsync(innerTask.ToString(), None), Is.Null, "the inner work did not commit on its own");
            await _stores.Quotas.TryInsertAsync(Hold(outerTask, Clock.GetUtcNow()), None);
            return true;
        }, None);

        Assert.That(seenAfterCommit, Is.EqualTo((true, true)), "the inner work's action ran after the outer commit, and saw both writes");
    }

    [Test]
    public async Task After_commit_actions_run_after_the_commit_in_order_and_see_the_committed_data_from_another_instance()
    {
        var taskId = Guid.NewGuid();
        var fresh = _stores.Reopen();
        var events = new List<string>();

        var result = await _stores.Transactions.InTransactionAsync(async () =>
        {
            await _stores.Quotas.TryInsertAsync(Hold(taskId, Clock.GetUtcNow()), None);
            _stores.Transactions.AfterCommit(async () =>
                events.Add("first sees entry: " + (await fresh.Quotas.GetEntryAsync(taskId.ToString(), None) is not null)));
            _stores.Transactions.AfterCommit(() =>
            {
                events.Add("second");
                return Task.CompletedTask;
            });
            events.Add("work done");
            return "result";
        }, None);

        Assert.That(result, Is.EqualTo("result"));
        Assert.That(events, Is.EqualTo(new[] { "work done", "first sees entry: True", "second" }));
    }

    [Test]
    public async Task An_after_commit_action_can_write_through_the_stores_and_run_a_transaction_of_its_own()
    {
        var taskId = Guid.NewGuid();
        var second = Guid.NewGuid();

        await _stores.Transactions.InTransactionAsync(async () =>
        {
            await _stores.Outbox.AddAsync(ForAgent(taskId), Clock.GetUtcNow(), None);
            // What the relay does once the task is sent: its own writes, no longer in the committed transaction.
            _stores.Transactions.AfterCommit(async () =>
            {
                await _stores.Outbox.RemoveAsync(taskId, None);
                await _stores.Transactions.InTransactionAsync(async () =>
                {
                    await _stores.Quotas.TryInsertAsync(Hold(second, Clock.GetUtcNow()), None);
                    return true;
                }, None);
            });
            return true;
        }, None);

        var fresh = _stores.Reopen();
        Assert.That(await fresh.Outbox.ListAsync(Clock.GetUtcNow().AddMinutes(1), 10, None), Is.Empty);
        Assert.That(await fresh.Quotas.GetEntryAsync(second.ToString(), None), Is.Not.Null);
    }

    [Test]
    public async Task After_commit_actions_never_run_when_the_transaction_rolls_back()
    {
        var ran = 0;

        Assert.ThrowsAsync<TimeoutException>(() => _stores.Transactions.InTransactionAsync<int>(async () =>
        {
            await _stores.Quotas.TryInsertAsync(Hold(Guid.NewGuid(), Clock.GetUtcNow()), None);
            _stores.Transactions.AfterCommit(() =>
            {
                ran++;
                return Task.CompletedTask;
            });
            throw new TimeoutException();
        }, None));

        // The next transaction commits: an action queued by the one that rolled back must not leak into it.
        await _stores.Transactions.InTransactionAsync(async () =>
        {
            await _stores.Quotas.TryInsertAsync(Hold(Guid.NewGuid(), Clock.GetUtcNow()), None);
            return true;
        }, None);

        Assert.That(ran, Is.Zero);
    }

    [Test]
    public void After_commit_outside_a_transaction_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => _stores.Transactions.AfterCommit(() => Task.CompletedTask));
    }

    [Test]
    public async Task Reads_inside_the_transaction_see_its_own_writes_that_others_do_not_see_before_the_commit()
    {
        var taskId = Guid.NewGuid();
        var otherTask = Guid.NewGuid();
        await _stores.Agents.RecordHeartbeatAsync(new AgentHeartbeat("1.0", "agent-1", Clock.GetUtcNow(), "host-1", ["hyperv"],
            new AgentCapacity(16, 65536, 1_000_000), new AgentCapacity(16, 65536, 1_000_000), 0), Clock.GetUtcNow(), None);
        var fresh = _stores.Reopen();

        await _stores.Transactions.InTransactionAsync(async () =>
        {
            await WriteADispatchAsync(_stores, taskId);

            using (Assert.EnterMultipleScope())
            {
                Assert.That((await _stores.Quotas.GetEntryAsync(taskId.ToString(), None))?.Status, Is.EqualTo(QuotaHoldStatuses.Held), "own quota entry");
                Assert.That((await _stores.Quotas.GetCountersAsync(Tenant, None)).Held, Is.EqualTo(Amounts), "own counters");
                Assert.That((await _stores.Agents.GetPlacementAsync(taskId, None))?.AgentId, Is.EqualTo("agent-1"), "own placement");
                Assert.That((await _stores.Agents.InFlightAsync(otherTask, None))["agent-1"], Is.EqualTo(new AgentCapacity(2, 2048, 10240)),
                    "own placement counted by an election");
                Assert.That((await _stores.Outbox.ListAsync(Clock.GetUtcNow().AddMinutes(1), 10, None)).Select(t => t.TaskId), Is.EqualTo(new[] { taskId }), "own outbox entry");
                Assert.That((await _stores.Tasks.LoadAsync(taskId, None))?.CurrentState, Is.EqualTo("Dispatching"), "own saga row");

                Assert.That(await fresh.Quotas.GetEntryAsync(taskId.ToString(), None), Is.Null, "another instance sees no uncommitted entry");
                Assert.That(await fresh.Quotas.GetCountersAsync(Tenant, None), Is.EqualTo(QuotaCounters.Zero), "nor uncommitted counters");
                Assert.That(await fresh.Agents.GetPlacementAsync(taskId, None), Is.Null, "nor an uncommitted placement");
            }
            return true;
        }, None);

        Assert.That(await fresh.Quotas.GetEntryAsync(taskId.ToString(), None), Is.Not.Null, "committed now");
    }
}
