using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>
/// Logs SQLite write failures with the database file and SQLite's cause, once per burst: the first failure (or a change of
/// cause) is an error, the ones after it are counted, and the first write that works again says how many there were.
/// </summary>
public sealed class SqliteFaultLog(string path, ILogger logger)
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [raw.SQLITE_ERROR] = nameof(raw.SQLITE_ERROR), [raw.SQLITE_INTERNAL] = nameof(raw.SQLITE_INTERNAL), [raw.SQLITE_PERM] = nameof(raw.SQLITE_PERM),
        [raw.SQLITE_ABORT] = nameof(raw.SQLITE_ABORT), [raw.SQLITE_BUSY] = nameof(raw.SQLITE_BUSY), [raw.SQLITE_LOCKED] = nameof(raw.SQLITE_LOCKED),
        [raw.SQLITE_NOMEM] = nameof(raw.SQLITE_NOMEM), [raw.SQLITE_READONLY] = nameof(raw.SQLITE_READONLY), [raw.SQLITE_INTERRUPT] = nameof(raw.SQLITE_INTERRUPT),
        [raw.SQLITE_IOERR] = nameof(raw.SQLITE_IOERR), [raw.SQLITE_CORRUPT] = nameof(raw.SQLITE_CORRUPT), [raw.SQLITE_NOTFOUND] = nameof(raw.SQLITE_NOTFOUND),
        [raw.SQLITE_FULL] = nameof(raw.SQLITE_FULL), [raw.SQLITE_CANTOPEN] = nameof(raw.SQLITE_CANTOPEN), [raw.SQLITE_PROTOCOL] = nameof(raw.SQLITE_PROTOCOL),
        [raw.SQLITE_EMPTY] = nameof(raw.SQLITE_EMPTY), [raw.SQLITE_SCHEMA] = nameof(raw.SQLITE_SCHEMA), [raw.SQLITE_TOOBIG] = nameof(raw.SQLITE_TOOBIG),
        [raw.SQLITE_CONSTRAINT] = nameof(raw.SQLITE_CONSTRAINT), [raw.SQLITE_MISMATCH] = nameof(raw.SQLITE_MISMATCH), [raw.SQLITE_MISUSE] = nameof(raw.SQLITE_MISUSE),
        [raw.SQLITE_NOLFS] = nameof(raw.SQLITE_NOLFS), [raw.SQLITE_AUTH] = nameof(raw.SQLITE_AUTH), [raw.SQLITE_FORMAT] = nameof(raw.SQLITE_FORMAT),
        [raw.SQLITE_RANGE] = nameof(raw.SQLITE_RANGE), [raw.SQLITE_NOTADB] = nameof(raw.SQLITE_NOTADB),
    };

    private readonly Lock _lock = new();
    private string? _failing;
    private long _failures;

    /// <summary>SQLite's cause in words a search finds: <c>SQLITE_FULL (database or disk is full; extended code 13)</c>.</summary>
    public static string Cause(SqliteException exception)
    {
        var name = Names.GetValueOrDefault(exception.SqliteErrorCode, $"SQLite error {exception.SqliteErrorCode}");
        return $"{name} ({raw.sqlite3_errstr(exception.SqliteExtendedErrorCode).utf8_to_string()}; extended code {exception.SqliteExtendedErrorCode})";
    }

    /// <summary>Records a failed write; only failures of the store itself (busy, full, read-only, I/O) count, not a statement's own error.</summary>
    public void Failed(SqliteException exception)
    {
        if (!StorageFaults.IsTransient(exception))
            return;
        var cause = Cause(exception);
        lock (_lock)
        {
            _failures++;
            if (_failing == cause)
                return;
            _failing = cause;
        }
        logger.LogError("SQLite database {Path} refuses writes: {Cause}. Writes are retried; the next error is logged when the cause changes or after writes work again",
            path, cause);
    }

    public void Succeeded()
    {
        if (Volatile.Read(ref _failing) is null)
            return;
        long failures;
        string? cause;
        lock (_lock)
        {
            (cause, failures) = (_failing, _failures);
            (_failing, _failures) = (null, 0);
        }
        if (cause is not null)
            logger.LogWarning("SQLite database {Path} accepts writes again, after {Failures} failed write(s) ({Cause})", path, failures, cause);
    }
}
