using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Tests.Support;
using SQLitePCL;

namespace OpenHvx.Tests.Persistence;

/// <summary>SQLite write failures are logged with the file and SQLite's cause, once per burst, and their end is logged with the count.</summary>
[TestFixture]
[Category("Unit")]
public sealed class SqliteFaultLogTests
{
    private static SqliteException Full() => new("SQLite Error 13: 'database or disk is full'.", raw.SQLITE_FULL, raw.SQLITE_FULL);

    [Test]
    public void A_burst_of_full_disk_errors_is_one_error_naming_the_file_and_cause_then_one_line_when_writes_work_again()
    {
        var recorder = new LogRecorder();
        var log = new SqliteFaultLog("/data/orchestrator.db", recorder);

        for (var i = 0; i < 132; i++)
            log.Failed(Full());
        log.Succeeded();
        log.Succeeded();

        Assert.That(recorder.Lines, Has.Count.EqualTo(2), string.Join("\n", recorder.Lines));
        Assert.That(recorder.Lines[0].Level, Is.EqualTo(LogLevel.Error));
        Assert.That(recorder.Lines[0].Text, Does.Contain("/data/orchestrator.db").And.Contain("SQLITE_FULL").And.Contain("database or disk is full"));
        Assert.That(recorder.Lines[1].Text, Does.Contain("/data/orchestrator.db").And.Contain("after 132 failed write(s)"));
    }

    [Test]
    public void A_new_cause_or_a_new_burst_is_logged_again_and_a_statements_own_error_is_not()
    {
        var recorder = new LogRecorder();
        var log = new SqliteFaultLog("/data/orchestrator.db", recorder);

        log.Failed(Full());
        log.Failed(new SqliteException("readonly", raw.SQLITE_READONLY, raw.SQLITE_READONLY));
        log.Failed(new SqliteException("UNIQUE constraint failed", raw.SQLITE_CONSTRAINT, 2067));
        log.Succeeded();
        log.Failed(Full());

        Assert.That(recorder.Lines.Where(l => l.Level == LogLevel.Error).Select(l => l.Text.Contains("SQLITE_FULL") ? "full" : l.Text.Contains("SQLITE_READONLY") ? "readonly" : l.Text),
            Is.EqualTo(new[] { "full", "readonly", "full" }));
    }
}
