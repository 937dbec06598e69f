using System.Data.Common;
using MassTransit;
using Microsoft.Data.Sqlite;
using MongoDB.Driver;
using SQLitePCL;

namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// What a storage failure is, defined once: <see cref="IsStorageFailure"/> (not the task's fault: its transaction is rolled back
/// and the message handled again) and, among those, <see cref="IsTransient"/> (worth retrying for minutes: the store is busy,
/// full, read-only, out of reach, or another writer won a race). Everything else is permanent and goes to the error queue at once.
/// </summary>
public static class StorageFaults
{
    // SQLite's primary result codes that a store can recover from without a change of code: busy/locked, read-only (a
    // remounted or full file system), I/O error, full disk, a file that cannot be opened now, a WAL protocol race.
    private static readonly HashSet<int> TransientSqlite =
    [
        raw.SQLITE_BUSY, raw.SQLITE_LOCKED, raw.SQLITE_READONLY, raw.SQLITE_IOERR, raw.SQLITE_FULL, raw.SQLITE_CANTOPEN, raw.SQLITE_PROTOCOL,
    ];

    public static bool IsStorageFailure(Exception exception)
        => Any(exception, ex => ex is DbException or MongoException or ConcurrencyException or TimeoutException or System.Net.Sockets.SocketException);

    public static bool IsTransient(Exception exception) => Any(exception, IsTransientItself);

    private static bool IsTransientItself(Exception ex) => ex switch
    {
        SqliteException sqlite => TransientSqlite.Contains(sqlite.SqliteErrorCode),
        MongoConnectionException or MongoNotPrimaryException or MongoNodeIsRecoveringException or MongoExecutionTimeoutException
            or MongoWaitQueueFullException or MongoWriteConcernException => true,
        MongoException mongo => mongo.HasErrorLabel("TransientTransactionError") || mongo.HasErrorLabel("RetryableWriteError")
                                || mongo.HasErrorLabel("UnknownTransactionCommitResult"),
        // Optimistic-concurrency conflicts (another message of the task, another process), the driver's server selection.
        ConcurrencyException or TimeoutException or System.Net.Sockets.SocketException => true,
        _ => false,
    };

    /// <summary>The exception or any it wraps (MassTransit and the drivers wrap the cause).</summary>
    private static bool Any(Exception exception, Func<Exception, bool> test)
    {
        for (Exception? ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (test(ex))
                return true;
            if (ex is AggregateException aggregate && aggregate.InnerExceptions.Any(inner => Any(inner, test)))
                return true;
        }
        return false;
    }
}
