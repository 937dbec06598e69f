using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// The orchestrator's MongoDB database (production). Stores use plain <see cref="BsonDocument"/>s, so
/// no class map or GUID representation setting can change what is written. A store transaction
/// (<see cref="IStoreTransactions"/>) is one session transaction, which needs a replica set; every store call made
/// inside it joins it through the ambient <see cref="Session"/> (stores reach their collections through
/// <see cref="Ambient"/>, whose calls pass the session when there is one).
/// </summary>
public sealed class MongoStorage : IStoreTransactions
{
    private readonly AsyncLocal<MongoUnit?> _ambient = new();

    public MongoStorage(string url)
    {
        var mongoUrl = MongoUrl.Create(url);
        Client = new MongoClient(mongoUrl);
        Database = Client.GetDatabase(mongoUrl.DatabaseName ?? "openhvx");
    }

    public MongoClient Client { get; }
    public IMongoDatabase Database { get; }

    /// <summary>The session of the running store transaction; null outside one.</summary>
    public IClientSessionHandle? Session => _ambient.Value?.Session;

    public IMongoCollection<BsonDocument> Collection(string name) => Database.GetCollection<BsonDocument>(name);

    /// <summary>A collection whose calls join the running store transaction when there is one.</summary>
    public AmbientCollection Ambient(string name) => new(this, Collection(name));

    public static bool IsMongoUrl(string? value)
        => value is not null && (value.StartsWith("mongodb://", StringComparison.Ordinal) || value.StartsWith("mongodb+srv://", StringComparison.Ordinal));

    private static TransactionOptions Options => new(writeConcern: WriteConcern.WMajority);

    /// <summary>
    /// Runs <paramref name="work"/> in one session transaction (or in the one already running), commits, then runs what
    /// <see cref="AfterCommit"/> queued. Not retried here: a transient error (write conflict) aborts and is thrown, and
    /// the caller retries the whole piece of work (MassTransit retries the whole message), since re-running only the
    /// callback would repeat its side effects.
    /// </summary>
    public async Task<T> InTransactionAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        if (_ambient.Value is not null)
            return await work();
        using var session = await Client.StartSessionAsync(cancellationToken: cancellationToken);
        session.StartTransaction(Options);
        var unit = new MongoUnit(session);
        T result;
        _ambient.Value = unit;
        try
        {
            result = await work();
            await session.CommitTransactionAsync(cancellationToken);
            StoreMetrics.WriteCommitted();
        }
        catch
        {
            await AbortQuietlyAsync(session);
            throw;
        }
        finally
        {
            _ambient.Value = null;
        }
        foreach (var (_, action) in unit.AfterCommit.OrderBy(a => a.Stage))
            await action();
        return result;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a session in a transaction. Inside a running store transaction it joins it (same
    /// session, no retry of its own). Otherwise it is its own transaction, retried by the driver on transient conflicts
    /// (so <paramref name="work"/> must be safe to run again), and store calls made inside it join it as well.
    /// </summary>
    public async Task<T> InTransactionAsync<T>(Func<IClientSessionHandle, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        if (_ambient.Value is { } ambient)
            return await work(ambient.Session, cancellationToken);
        using var session = await Client.StartSessionAsync(cancellationToken: cancellationToken);
        List<(AfterCommitStage Stage, Func<Task> Action)> afterCommit = [];
        var result = await session.WithTransactionAsync(async (s, token) =>
        {
            var unit = new MongoUnit(s);
            _ambient.Value = unit;
            try
            {
                var value = await work(s, token);
                afterCommit = unit.AfterCommit;
                return value;
            }
            finally
            {
                _ambient.Value = null;
            }
        }, Options, cancellationToken);
        StoreMetrics.WriteCommitted();
        foreach (var (_, action) in afterCommit.OrderBy(a => a.Stage))
            await action();
        return result;
    }

    public void AfterCommit(Func<Task> action, AfterCommitStage stage = AfterCommitStage.Events)
    {
        if (_ambient.Value is { } ambient)
            ambient.AfterCommit.Add((stage, action));
        else
            throw new InvalidOperationException("AfterCommit needs a transaction (InTransactionAsync).");
    }

    /// <summary>A real write (one document of <c>store_probe</c>, majority write concern): the readiness check.</summary>
    public Task ProbeWriteAsync(CancellationToken cancellationToken)
        => Collection("store_probe").WithWriteConcern(WriteConcern.WMajority).UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", "probe"),
            Builders<BsonDocument>.Update.Set("at", DateTime.UtcNow), new UpdateOptions { IsUpsert = true }, cancellationToken);

    private static async Task AbortQuietlyAsync(IClientSessionHandle session)
    {
        try
        {
            if (session.IsInTransaction)
                await session.AbortTransactionAsync(CancellationToken.None);
        }
        catch (Exception)
        {
            // The server aborts it anyway (the error that brought us here, or the session's end); the first error is the one to report.
        }
    }

    /// <summary>
    /// Serializes transactions on one key: every transaction that touches the same guard document
    /// conflicts with the others (a write conflict: one commits, the others abort and are retried), so
    /// snapshot reads cannot let two of them both see the same room.
    /// </summary>
    public Task TakeGuardAsync(IClientSessionHandle session, string key, CancellationToken cancellationToken)
        => Collection("guards").UpdateOneAsync(session, Builders<BsonDocument>.Filter.Eq("_id", key),
            Builders<BsonDocument>.Update.Inc("n", 1L), new UpdateOptions { IsUpsert = true }, cancellationToken);

    public static BsonDocument Amounts(QuotaAmounts amounts) => new()
    {
        ["cpu"] = amounts.Cpu,
        ["memoryMB"] = amounts.MemoryMB,
        ["storageMB"] = amounts.StorageMB,
        ["vmCount"] = amounts.VmCount,
    };

    public static QuotaAmounts Amounts(BsonValue value)
    {
        if (value is not BsonDocument d)
            return QuotaAmounts.Zero;
        return new QuotaAmounts(Long(d, "cpu"), Long(d, "memoryMB"), Long(d, "storageMB"), Long(d, "vmCount"));
    }

    /// <summary>A number field, 0 when absent or null.</summary>
    internal static long Long(BsonDocument d, string name) => d.TryGetValue(name, out var v) && !v.IsBsonNull ? v.ToInt64() : 0;

    internal static bool Bool(BsonDocument d, string name) => d.TryGetValue(name, out var v) && v.IsBoolean && v.AsBoolean;

    internal static string? String(BsonDocument d, string name) => d.TryGetValue(name, out var v) && v.IsString ? v.AsString : null;

    public static bool IsDuplicate(MongoWriteException ex) => ex.WriteError?.Category == ServerErrorCategory.DuplicateKey;

    private sealed class MongoUnit(IClientSessionHandle session)
    {
        public IClientSessionHandle Session { get; } = session;
        public List<(AfterCommitStage Stage, Func<Task> Action)> AfterCommit { get; } = [];
    }
}

/// <summary>
/// A collection of <see cref="MongoStorage"/> whose calls pass the running transaction's session when there is one, and
/// none otherwise.
/// </summary>
public sealed class AmbientCollection(MongoStorage storage, IMongoCollection<BsonDocument> collection)
{
    public IMongoCollection<BsonDocument> Collection => collection;

    /// <summary>The running transaction's session; null outside one.</summary>
    public IClientSessionHandle? Session => storage.Session;

    public IFindFluent<BsonDocument, BsonDocument> Find(FilterDefinition<BsonDocument> filter)
        => Session is { } s ? collection.Find(s, filter) : collection.Find(filter);

    public Task InsertOneAsync(BsonDocument document, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.InsertOneAsync(s, document, cancellationToken: cancellationToken)
            : collection.InsertOneAsync(document, cancellationToken: cancellationToken);

    public Task<ReplaceOneResult> ReplaceOneAsync(FilterDefinition<BsonDocument> filter, BsonDocument document, ReplaceOptions? options, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.ReplaceOneAsync(s, filter, document, options, cancellationToken)
            : collection.ReplaceOneAsync(filter, document, options, cancellationToken);

    public Task<UpdateResult> UpdateOneAsync(FilterDefinition<BsonDocument> filter, UpdateDefinition<BsonDocument> update, UpdateOptions? options, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.UpdateOneAsync(s, filter, update, options, cancellationToken)
            : collection.UpdateOneAsync(filter, update, options, cancellationToken);

    public Task<BsonDocument?> FindOneAndUpdateAsync(FilterDefinition<BsonDocument> filter, UpdateDefinition<BsonDocument> update,
        FindOneAndUpdateOptions<BsonDocument, BsonDocument?> options, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.FindOneAndUpdateAsync(s, filter, update, options, cancellationToken)
            : collection.FindOneAndUpdateAsync(filter, update, options, cancellationToken);

    public Task<UpdateResult> UpdateManyAsync(FilterDefinition<BsonDocument> filter, UpdateDefinition<BsonDocument> update, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.UpdateManyAsync(s, filter, update, cancellationToken: cancellationToken)
            : collection.UpdateManyAsync(filter, update, cancellationToken: cancellationToken);

    public Task<DeleteResult> DeleteOneAsync(FilterDefinition<BsonDocument> filter, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.DeleteOneAsync(s, filter, cancellationToken: cancellationToken)
            : collection.DeleteOneAsync(filter, cancellationToken);

    public Task<DeleteResult> DeleteManyAsync(FilterDefinition<BsonDocument> filter, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.DeleteManyAsync(s, filter, cancellationToken: cancellationToken)
            : collection.DeleteManyAsync(filter, cancellationToken);

    public Task<long> CountDocumentsAsync(FilterDefinition<BsonDocument> filter, CancellationToken cancellationToken)
        => Session is { } s
            ? collection.CountDocumentsAsync(s, filter, cancellationToken: cancellationToken)
            : collection.CountDocumentsAsync(filter, cancellationToken: cancellationToken);

    /// <summary>
    /// Inserts a document that may already exist (a claim); false when one with its id does. Outside a transaction:
    /// insert and catch the duplicate key. Inside one a write error would abort the whole transaction, so it looks first
    /// and inserts only when absent (a concurrent insert then fails the transaction, which is retried whole).
    /// </summary>
    public async Task<bool> TryInsertAsync(BsonDocument document, CancellationToken cancellationToken)
    {
        if (Session is { } s)
        {
            if (await collection.Find(s, Builders<BsonDocument>.Filter.Eq("_id", document["_id"])).Limit(1).AnyAsync(cancellationToken))
                return false;
            await collection.InsertOneAsync(s, document, cancellationToken: cancellationToken);
            return true;
        }
        try
        {
            await collection.InsertOneAsync(document, cancellationToken: cancellationToken);
            return true;
        }
        catch (MongoWriteException ex) when (MongoStorage.IsDuplicate(ex))
        {
            return false;
        }
    }
}
