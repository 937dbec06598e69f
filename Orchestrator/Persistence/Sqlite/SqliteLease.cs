using Microsoft.Data.Sqlite;

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
    }

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
        _faults?.Succeeded();
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
