using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// The orchestrator's MongoDB database (production). Stores use plain <see cref="BsonDocument"/>s, so
/// no class map or GUID representation setting can change what is written. Multi-document steps
/// that must not interleave (quota holds, elections) run in transactions, which need a replica set.
/// </summary>
public sealed class MongoStorage
{
    public MongoStorage(string url)
    {
        var mongoUrl = MongoUrl.Create(url);
        Client = new MongoClient(mongoUrl);
        Database = Client.GetDatabase(mongoUrl.DatabaseName ?? "openhvx");
    }

    public MongoClient Client { get; }
    public IMongoDatabase Database { get; }

    public IMongoCollection<BsonDocument> Collection(string name) => Database.GetCollection<BsonDocument>(name);

    public static bool IsMongoUrl(string? value)
        => value is not null && (value.StartsWith("mongodb://", StringComparison.Ordinal) || value.StartsWith("mongodb+srv://", StringComparison.Ordinal));

    /// <summary>Runs <paramref name="work"/> in a transaction, retried by the driver on transient conflicts.</summary>
    public async Task<T> InTransactionAsync<T>(Func<IClientSessionHandle, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        using var session = await Client.StartSessionAsync(cancellationToken: cancellationToken);
        return await session.WithTransactionAsync(work, new TransactionOptions(writeConcern: WriteConcern.WMajority), cancellationToken);
    }

    /// <summary>
    /// Serializes transactions on one key: every transaction that touches the same guard document
    /// conflicts with the others, so the driver retries all but one (snapshot reads alone would let
    /// two holds both see room for themselves).
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
        return new QuotaAmounts(d["cpu"].ToInt64(), d["memoryMB"].ToInt64(), d["storageMB"].ToInt64(), d["vmCount"].ToInt64());
    }

    public static bool IsDuplicate(MongoWriteException ex) => ex.WriteError?.Category == ServerErrorCategory.DuplicateKey;
}
