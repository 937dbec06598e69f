using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OpenHvx.HyperVAgent;
using OpenHvx.HyperVAgent.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Agent;

/// <summary>The agent's task journal on its own file: the states a task goes through and what a redelivery learns from each.</summary>
[TestFixture]
[Category("Unit")]
public sealed class TaskJournalTests
{
    private static TaskJournal JournalIn(TempFolder folder) => new(Options.Create(new AgentOptions { DataPath = folder.Path }));

    private static void Execute(string databaseFile, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={databaseFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [Test]
    public void A_task_is_recorded_running_only_when_it_starts_and_a_task_that_never_started_is_run_when_redelivered()
    {
        using var folder = new TempFolder("journal");
        var taskId = Guid.NewGuid();
        var journal = JournalIn(folder);

        Assert.That(journal.Begin(taskId, "vm.create", DateTimeOffset.UtcNow).State, Is.EqualTo(JournalEntryState.Begun));
        Assert.That(journal.Find(taskId)?.State, Is.EqualTo(JournalEntryState.NeverStarted), "accepted, waiting for its VM");

        // The agent is killed before the task held its VM; the restarted agent opens the same file.
        var restarted = JournalIn(folder);
        Assert.That(restarted.Begin(taskId, "vm.create", DateTimeOffset.UtcNow).State, Is.EqualTo(JournalEntryState.NeverStarted));
        Assert.That(restarted.TryStart(taskId, DateTimeOffset.UtcNow), Is.True, "it runs");

        // Killed again, this time while its script ran.
        Assert.That(JournalIn(folder).Begin(taskId, "vm.create", DateTimeOffset.UtcNow).State, Is.EqualTo(JournalEntryState.WasRunning));
    }

    [Test]
    public void Two_deliveries_waiting_on_one_journal_start_the_task_once()
    {
        using var folder = new TempFolder("journal");
        var taskId = Guid.NewGuid();
        var first = JournalIn(folder);
        var second = JournalIn(folder);
        first.Begin(taskId, "vm.create", DateTimeOffset.UtcNow);
        second.Begin(taskId, "vm.create", DateTimeOffset.UtcNow);

        var started = new[] { first.TryStart(taskId, DateTimeOffset.UtcNow), second.TryStart(taskId, DateTimeOffset.UtcNow) };

        Assert.That(started.Count(s => s), Is.EqualTo(1));
        first.Complete(taskId, "{\"ok\":true}", DateTimeOffset.UtcNow);
        Assert.That(second.TryStart(taskId, DateTimeOffset.UtcNow), Is.False, "a finished task does not start again");
        Assert.That(second.Find(taskId), Is.EqualTo((JournalEntryState.Finished, "{\"ok\":true}")));
    }

    [Test]
    public void A_finished_result_stays_unconfirmed_across_a_restart_until_its_publish_is_confirmed()
    {
        using var folder = new TempFolder("journal");
        var journal = JournalIn(folder);
        var (first, second, waiting) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        foreach (var id in new[] { first, second, waiting })
        {
            journal.Begin(id, "vm.create", DateTimeOffset.UtcNow);
            journal.TryStart(id, DateTimeOffset.UtcNow);
        }

        journal.Complete(first, "{\"n\":1}", DateTimeOffset.UtcNow.AddSeconds(-1));
        journal.Complete(second, "{\"n\":2}", DateTimeOffset.UtcNow);

        Assert.That(journal.Unconfirmed(), Is.EqualTo(new[] { (first, "{\"n\":1}"), (second, "{\"n\":2}") }), "stored, not yet confirmed, oldest first");
        journal.Confirm(first);
        var restarted = JournalIn(folder);
        Assert.That(restarted.Unconfirmed(), Is.EqualTo(new[] { (second, "{\"n\":2}") }), "what a restarted agent publishes again");
        restarted.Confirm(second);
        Assert.That(restarted.Unconfirmed(), Is.Empty);
        Assert.That(restarted.Find(second), Is.EqualTo((JournalEntryState.Finished, "{\"n\":2}")), "a confirmed result is still republished to a redelivery");
        restarted.Confirm(waiting);
        Assert.That(restarted.Find(waiting)?.State, Is.EqualTo(JournalEntryState.WasRunning), "confirming an unfinished task changes nothing");
    }

    [Test]
    public void A_journal_written_by_the_previous_version_is_opened_and_its_rows_keep_their_meaning()
    {
        using var folder = new TempFolder("journal");
        var file = folder.File("journal.db");
        var running = Guid.NewGuid();
        var done = Guid.NewGuid();
        // The previous version's schema and the only states it wrote: 'running' (from acceptance on) and 'done'.
        Execute(file, $"""
            PRAGMA journal_mode=WAL;
            CREATE TABLE journal (
                task_id TEXT PRIMARY KEY,
                action TEXT NOT NULL,
                state TEXT NOT NULL,
                result TEXT,
                started_at INTEGER NOT NULL,
                finished_at INTEGER
            );
            INSERT INTO journal VALUES ('{running}', 'vm.create', 'running', NULL, 1700000000000, NULL);
            INSERT INTO journal VALUES ('{done}', 'vm.delete', 'done', '{"{"}"ok":true{"}"}', 1700000000000, 1700000001000);
            """);

        var journal = JournalIn(folder);

        Assert.That(journal.Begin(running, "vm.create", DateTimeOffset.UtcNow), Is.EqualTo((JournalEntryState.WasRunning, (string?)null)),
            "an old 'running' row may have run: it is not run again");
        Assert.That(journal.TryStart(running, DateTimeOffset.UtcNow), Is.False);
        Assert.That(journal.Begin(done, "vm.delete", DateTimeOffset.UtcNow), Is.EqualTo((JournalEntryState.Finished, "{\"ok\":true}")));
        Assert.That(journal.Unconfirmed(), Is.Empty, "the previous version's results were published: they count as confirmed");
        var fresh = Guid.NewGuid();
        Assert.That(journal.Begin(fresh, "vm.create", DateTimeOffset.UtcNow).State, Is.EqualTo(JournalEntryState.Begun));
        Assert.That(journal.TryStart(fresh, DateTimeOffset.UtcNow), Is.True);
        journal.Complete(fresh, "{\"ok\":true}", DateTimeOffset.UtcNow);
        Assert.That(JournalIn(folder).Unconfirmed(), Is.EqualTo(new[] { (fresh, "{\"ok\":true}") }), "the upgraded file keeps new results unconfirmed");
    }

    [Test]
    public void Confirmed_results_past_the_retention_are_dropped_and_a_redelivery_inside_it_still_gets_the_stored_result()
    {
        using var folder = new TempFolder("journal");
        var journal = JournalIn(folder);
        var t0 = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var (old, recent, unconfirmed, running, waiting) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        foreach (var id in new[] { old, recent, unconfirmed, running, waiting })
            journal.Begin(id, "vm.power", t0);
        foreach (var id in new[] { old, recent, unconfirmed, running })
            journal.TryStart(id, t0);
        journal.Complete(old, "{\"old\":true}", t0);
        journal.Complete(recent, "{\"recent\":true}", t0.AddDays(2));
        journal.Complete(unconfirmed, "{\"unconfirmed\":true}", t0);
        journal.Confirm(old);
        journal.Confirm(recent);

        var dropped = journal.Prune(t0.AddDays(1));

        Assert.That(dropped, Is.EqualTo(1));
        Assert.That(journal.Find(old), Is.Null, "confirmed and older than the retention");
        Assert.That(journal.Begin(recent, "vm.power", t0.AddDays(3)), Is.EqualTo((JournalEntryState.Finished, "{\"recent\":true}")),
            "redelivered inside the window: the stored result, not a second run");
        Assert.That(journal.Unconfirmed().Select(r => r.TaskId), Is.EqualTo(new[] { unconfirmed }), "an unconfirmed result is kept whatever its age");
        Assert.That(journal.Find(running)?.State, Is.EqualTo(JournalEntryState.WasRunning), "a running task is kept");
        Assert.That(journal.Find(waiting)?.State, Is.EqualTo(JournalEntryState.NeverStarted), "a waiting task is kept");
    }
}
