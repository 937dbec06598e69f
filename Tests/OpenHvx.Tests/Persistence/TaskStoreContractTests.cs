using System.Text.Json;
using Microsoft.Data.Sqlite;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract every <see cref="ITaskStore"/> adapter meets; one subclass per adapter.</summary>
public abstract class TaskStoreContract
{
    protected ITaskStore _store = null!;

    protected abstract ITaskStore CreateStore();

    /// <summary>A second store on the same data, as a restarted process would open it.</summary>
    protected abstract ITaskStore Reopen();

    [SetUp]
    public void CreateStoreForTest() => _store = CreateStore();

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
    public async Task Delete_removes_the_task_only_at_its_current_version()
    {
        var task = NewTask();
        await _store.TryInsertAsync(task, CancellationToken.None);
        var stale = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        var current = (await _store.LoadAsync(task.CorrelationId, CancellationToken.None))!;
        current.Status = "changed";
        await _store.UpdateAsync(current, CancellationToken.None);

        Assert.ThrowsAsync<SagaVersionConflictException>(() => _store.DeleteAsync(stale, CancellationToken.None));
        await _store.DeleteAsync(current, CancellationToken.None);
        Assert.That(await _store.LoadAsync(task.CorrelationId, CancellationToken.None), Is.Null);
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

        // A new process opening the same store sees the same deadlines.
        var reopened = Reopen();
        var expired = await reopened.FindExpiredAsync(DateTimeOffset.UtcNow, 10, CancellationToken.None);

        Assert.That(expired.Select(e => (e.TaskId, e.State)), Is.EqualTo(new[] { (task.CorrelationId, "AwaitingResult") }));
    }
}

[TestFixture]
[Category("Integration")]
public sealed class SqliteTaskStoreContractTests : TaskStoreContract
{
    private TempFolder _folder = null!;

    protected override ITaskStore CreateStore()
    {
        _folder = new TempFolder("store");
        return Reopen();
    }

    protected override ITaskStore Reopen() => new SqliteTaskStore(new SqliteDatabase(_folder.File("tasks.db")));

    [TearDown]
    public void TearDown()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }
}

/// <summary>The same contract on MongoDB; runs where OPENHVX_TEST_MONGO names a server (none can be installed on the build machines).</summary>
[TestFixture]
[Category("Integration")]
public sealed class MongoTaskStoreContractTests : TaskStoreContract
{
    private OpenHvx.Orchestrator.Persistence.Mongo.MongoStorage? _storage;
    private string _database = "";

    protected override ITaskStore CreateStore()
    {
        var url = Environment.GetEnvironmentVariable("OPENHVX_TEST_MONGO");
        if (string.IsNullOrEmpty(url))
            Assert.Ignore("Set OPENHVX_TEST_MONGO (for example mongodb://localhost:27017) to run the MongoDB adapter's contract tests.");
        _database = "openhvx_test_" + Guid.NewGuid().ToString("N")[..10];
        _storage = new OpenHvx.Orchestrator.Persistence.Mongo.MongoStorage(new MongoDB.Driver.MongoUrlBuilder(url) { DatabaseName = _database }.ToString());
        OpenHvx.Orchestrator.Persistence.Mongo.MongoSchema.EnsureAsync(_storage, CancellationToken.None).GetAwaiter().GetResult();
        return Reopen();
    }

    protected override ITaskStore Reopen() => new OpenHvx.Orchestrator.Persistence.Mongo.MongoTaskStore(_storage!);

    [TearDown]
    public void TearDown() => _storage?.Client.DropDatabase(_database);
}
