using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace OpenHvx.Orchestrator.Persistence.Sqlite;

/// <summary>
/// A connection lent by <see cref="SqliteDatabase"/>, with its write transaction when it has one. A lease joined to a
/// running transaction neither commits nor closes: the transaction's owner does.
/// </summary>
public sealed class SqliteLease : IAsyncDisposable
{
    private readonly SemaphoreSlim? _writer;
    private readonly bool _owned;
    private readonly SqliteFaultLog? _faults;

    internal SqliteLease(SqliteConnection connection, SqliteTransaction? transaction, SemaphoreSlim? writer, bool owned = true, SqliteFaultLog? faults = null)
    {
        Connection = connection;
        Transaction = transaction;
        _writer = writer;
        _owned = owned;
        _faults = faults;
        _changesAtStart = faults is null ? 0 : raw.sqlite3_total_changes(connection.Handle);
    }

    // What the connection had changed when the lease began: a commit that changed nothing proves nothing about writes.
    private readonly long _changesAtStart;

    public SqliteConnection Connection { get; }
    public SqliteTransaction? Transaction { get; }

    /// <summary>Work to do once the transaction has committed (and only then): what must not leave before it is stored.</summary>
    internal List<(AfterCommitStage Stage, Func<Task> Action)> AfterCommit { get; } = [];

    internal SqliteLease Joined() => new(Connection, Transaction, null, owned: false);

    public SqliteCommand Command(string sql) => Connection.Command(sql, Transaction);

    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        if (!_owned || Transaction is null)
            return;
        try
        {
            await Transaction.CommitAsync(cancellationToken);
        }
        catch (SqliteException ex)
        {
            _faults?.Failed(ex);
            throw;
        }
        StoreMetrics.WriteCommitted();
        if (_faults is not null && raw.sqlite3_total_changes(Connection.Handle) > _changesAtStart)
            _faults.Succeeded();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_owned)
            return;
        try
        {
            if (Transaction is not null)
                await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            _writer?.Release();
        }
    }
}
