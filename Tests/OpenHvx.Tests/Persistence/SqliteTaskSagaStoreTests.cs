using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

[TestFixture]
[Category("Integration")]
public sealed class SqliteTaskSagaStoreTests
{
    private TempFolder _folder = null!;
    private SqliteTaskSagaStore _store = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = new TempFolder("store");
        _store = new SqliteTaskSagaStore(new SqliteDatabase(_folder.File("tasks.db")));
    }

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private static TaskState NewTask(string tenant = "t1", string state = "Validating") => new()
    {
        CorrelationId = Guid.NewGuid(),
        CurrentState = state,
        TenantId = tenant,
        Action = "vm.create",
        Data = JsonSerializer.SerializeToElement(new { name = "web1" }),
        CreatedAt = DateTimeOffset.UtcNow,
        UpdatedAt = DateTimeOffset.UtcNow,
    };

    [Test]
    public async Task Insert_then_load_round_trips_the_document()
    {
        var task = NewTask();
        task.Timeline.Add(new TimelineEntry("Validating", "pending", DateTimeOffset.UtcNow));

        Assert.That(await _store.TryInsertAsync(task, CancellationToken.None), Is.True);
        Assert.That(await _store.TryInsertAsync(task, CancellationToken.None), Is.False, "a second insert of one id");

        var loaded = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        Assert.That((loaded.Version, loaded.TenantId, loaded.CurrentState), Is.EqualTo((1, "t1", "Validating")));
        Assert.That(loaded.Data.GetProperty("name").GetString(), Is.EqualTo("web1"));
        Assert.That(loaded.Timeline, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Of_two_concurrent_updates_one_wins_and_the_other_gets_a_conflict_then_retries()
    {
        var task = NewTask();
        await _store.TryInsertAsync(task, CancellationToken.None);
        var first = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        var second = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;

        first.CurrentState = "Electing";
        await _store.UpdateAsync(first, CancellationToken.None);
        second.CurrentState = "Failed";
        Assert.ThrowsAsync<SagaVersionConflictException>(() => _store.UpdateAsync(second, CancellationToken.None));

        // The loser retries from a fresh load, as the saga endpoint's retry does.
        var retry = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        Assert.That(retry.CurrentState, Is.EqualTo("Electing"));
        retry.Status = "FAILED";
        await _store.UpdateAsync(retry, CancellationToken.None);
        var final = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        Assert.That((final.Version, final.CurrentState, final.Status), Is.EqualTo((3, "Electing", "FAILED")));
    }

    [Test]
    public async Task Fifty_racing_writers_with_retry_apply_all_fifty_changes()
    {
        var task = NewTask();
        await _store.TryInsertAsync(task, CancellationToken.None);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            while (true)
            {
                var copy = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
                copy.Progress.Add(new ProgressEntry($"writer {i}", DateTimeOffset.UtcNow));
                try
                {
                    await _store.UpdateAsync(copy, CancellationToken.None);
                    return;
                }
                catch (SagaVersionConflictException)
                {
                }
            }
        })));

        var final = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        Assert.That(final.Progress, Has.Count.EqualTo(50));
        Assert.That(final.Version, Is.EqualTo(51));
    }

    [Test]
    public async Task Query_filters_by_tenant_and_state_newest_first()
    {
        var older = NewTask("a");
        older.CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-10);
        var newer = NewTask("a", "Succeeded");
        var other = NewTask("b");
        foreach (var t in new[] { older, newer, other })
            await _store.TryInsertAsync(t, CancellationToken.None);

        var tenantA = await _store.QueryAsync(new TaskQuery { TenantId = "a" }, CancellationToken.None);
        Assert.That(tenantA.Select(t => t.CorrelationId), Is.EqualTo(new[] { newer.CorrelationId, older.CorrelationId }));
        var validating = await _store.QueryAsync(new TaskQuery { State = "Validating" }, CancellationToken.None);
        Assert.That(validating.Select(t => t.CorrelationId), Is.EquivalentTo(new[] { older.CorrelationId, other.CorrelationId }));
        var aged = await _store.QueryAsync(new TaskQuery { CreatedBefore = DateTimeOffset.UtcNow.AddMinutes(-5) }, CancellationToken.None);
        Assert.That(aged.Select(t => t.CorrelationId), Is.EqualTo(new[] { older.CorrelationId }));
    }

    [Test]
    public async Task Expired_deadlines_are_found_from_the_file_by_a_new_store()
    {
        var task = NewTask(state: "AwaitingResult");
        task.DeadlineAt = DateTimeOffset.UtcNow.AddSeconds(-1);
        var later = NewTask(state: "AwaitingResult");
        later.DeadlineAt = DateTimeOffset.UtcNow.AddHours(1);
        await _store.TryInsertAsync(task, CancellationToken.None);
        await _store.TryInsertAsync(later, CancellationToken.None);

        // A new process opening the same file sees the same deadlines.
        var reopened = new SqliteTaskSagaStore(new SqliteDatabase(_folder.File("tasks.db")));
        var expired = await reopened.FindExpiredAsync(DateTimeOffset.UtcNow, 10, CancellationToken.None);

        Assert.That(expired.Select(e => (e.TaskId, e.State)), Is.EqualTo(new[] { (task.CorrelationId, "AwaitingResult") }));
    }
}
