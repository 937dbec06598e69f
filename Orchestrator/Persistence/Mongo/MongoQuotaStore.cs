using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// The quota ledger (<c>quota_holds</c>: one document per task or correction) and its per-tenant counters
/// (<c>quota_usage</c>: <c>{ _id: tenantId, used: {…}, held: {…} }</c>, changed with <c>$inc</c>). Primitives only: the
/// rules are <see cref="QuotaLedger"/>'s. Every call joins the running store transaction; two transactions that change
/// the same tenant's counters conflict on its counters document, so one of them is retried and holds of one tenant are
/// serialized.
/// </summary>
public sealed class MongoQuotaStore : IQuotaStore
{
    public const string LedgerCollection = "quota_holds";
    public const string CountersCollection = "quota_usage";

    private readonly AmbientCollection _holds;
    private readonly AmbientCollection _usage;

    public MongoQuotaStore(MongoStorage storage)
    {
        _holds = storage.Ambient(LedgerCollection);
        _usage = storage.Ambient(CountersCollection);
    }

    private static FilterDefinitionBuilder<BsonDocument> F => Builders<BsonDocument>.Filter;

    public async Task<QuotaLedgerEntry?> GetEntryAsync(string key, CancellationToken cancellationToken)
    {
        var document = await _holds.Find(F.Eq("_id", key)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : FromBson(document);
    }

    public async Task<QuotaCounters> GetCountersAsync(string tenantId, CancellationToken cancellationToken)
    {
        var document = await _usage.Find(F.Eq("_id", tenantId)).FirstOrDefaultAsync(cancellationToken);
        if (document is null)
            return QuotaCounters.Zero;
        return new QuotaCounters(
            MongoStorage.Amounts(document.GetValue("used", BsonNull.Value)),
            MongoStorage.Amounts(document.GetValue("held", BsonNull.Value)));
    }

    public async Task<IReadOnlyList<QuotaLedgerEntry>> FindLapsedAsync(string? tenantId, DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        var documents = await _holds.Find(Lapsed(tenantId, now)).Sort(Builders<BsonDocument>.Sort.Ascending("expiresAt"))
            .Limit(limit).ToListAsync(cancellationToken);
        return documents.Select(FromBson).ToList();
    }

    /// <summary>Entries still held whose TTL has passed, of one tenant or of all (indexes tenant_status_expiry and status_expiry).</summary>
    internal static FilterDefinition<BsonDocument> Lapsed(string? tenantId, DateTimeOffset now)
    {
        var lapsed = F.And(F.Eq("status", QuotaHoldStatuses.Held), F.Lte("expiresAt", now.UtcDateTime));
        return tenantId is null ? lapsed : F.And(F.Eq("tenantId", tenantId), lapsed);
    }

    public Task<long> CountHeldAsync(CancellationToken cancellationToken)
        => _holds.CountDocumentsAsync(F.Eq("status", QuotaHoldStatuses.Held), cancellationToken);

    public Task<bool> TryInsertAsync(QuotaLedgerEntry entry, CancellationToken cancellationToken)
        => _holds.TryInsertAsync(ToBson(entry), cancellationToken);

    public async Task<bool> TrySettleAsync(string key, string expectedStatus, string status, QuotaAmounts amounts, bool overLimit, bool holdLapsed,
        DateTimeOffset at, CancellationToken cancellationToken)
    {
        var update = Builders<BsonDocument>.Update
            .Set("status", status)
            .Set("cpu", amounts.Cpu).Set("memoryMB", amounts.MemoryMB).Set("storageMB", amounts.StorageMB).Set("vmCount", amounts.VmCount)
            .Set("overLimit", overLimit).Set("holdLapsed", holdLapsed).Set("settledAt", at.UtcDateTime);
        var result = await _holds.UpdateOneAsync(F.And(F.Eq("_id", key), F.Eq("status", expectedStatus)), update, null, cancellationToken);
        return result.MatchedCount == 1;
    }

    public Task AddToCountersAsync(string tenantId, QuotaAmounts used, QuotaAmounts held, CancellationToken cancellationToken)
        => _usage.UpdateOneAsync(F.Eq("_id", tenantId), Builders<BsonDocument>.Update
                .Inc("used.cpu", used.Cpu).Inc("used.memoryMB", used.MemoryMB).Inc("used.storageMB", used.StorageMB).Inc("used.vmCount", used.VmCount)
                .Inc("held.cpu", held.Cpu).Inc("held.memoryMB", held.MemoryMB).Inc("held.storageMB", held.StorageMB).Inc("held.vmCount", held.VmCount),
            new UpdateOptions { IsUpsert = true }, cancellationToken);

    internal static BsonDocument ToBson(QuotaLedgerEntry entry)
    {
        var document = MongoStorage.Amounts(entry.Amounts);
        document["_id"] = entry.Key;
        document["tenantId"] = entry.TenantId;
        document["agentId"] = entry.AgentId is null ? BsonNull.Value : entry.AgentId;
        document["status"] = entry.Status;
        document["overLimit"] = entry.OverLimit;
        document["holdLapsed"] = entry.HoldLapsed;
        document["createdAt"] = entry.CreatedAt.UtcDateTime;
        document["expiresAt"] = entry.ExpiresAt.UtcDateTime;
        document["settledAt"] = entry.Status == QuotaHoldStatuses.Held ? BsonNull.Value : entry.CreatedAt.UtcDateTime;
        return document;
    }

    /// <summary>An entry; fields missing from documents written by earlier versions (agentId, holdLapsed) read as null / false.</summary>
    internal static QuotaLedgerEntry FromBson(BsonDocument d) => new(
        d["_id"].AsString, d["tenantId"].AsString, MongoStorage.String(d, "agentId"), MongoStorage.Amounts(d), d["status"].AsString,
        new DateTimeOffset(d["createdAt"].ToUniversalTime()), new DateTimeOffset(d["expiresAt"].ToUniversalTime()),
        MongoStorage.Bool(d, "overLimit"), MongoStorage.Bool(d, "holdLapsed"));

    /// <summary>
    /// Counters for a database from before them: when <c>quota_usage</c> is empty and the ledger is not, each tenant's
    /// counters become the sums of its ledger (committed → used, held → held; a held entry past its TTL still counts until
    /// it is marked expired, which takes it off). One transaction, so it runs once even when two instances start together.
    /// </summary>
    public static Task BuildCountersAsync(MongoStorage storage, CancellationToken cancellationToken)
        => storage.InTransactionAsync(async (session, token) =>
        {
            var usage = storage.Collection(CountersCollection);
            if (await usage.Find(session, F.Empty).Limit(1).AnyAsync(token))
                return false;
            var holds = storage.Collection(LedgerCollection);
            if (!await holds.Find(session, F.Empty).Limit(1).AnyAsync(token))
                return false;
            BsonDocument Sum(string status, string field)
                => new("$sum", new BsonDocument("$cond", new BsonArray { new BsonDocument("$eq", new BsonArray { "$status", status }), "$" + field, 0 }));
            var group = new BsonDocument("_id", "$tenantId");
            foreach (var name in QuotaRules.Names)
            {
                group["used_" + name] = Sum(QuotaHoldStatuses.Committed, name);
                group["held_" + name] = Sum(QuotaHoldStatuses.Held, name);
            }
            var pipeline = PipelineDefinition<BsonDocument, BsonDocument>.Create(
                new BsonDocument("$match", new BsonDocument("status", new BsonDocument("$in", new BsonArray { QuotaHoldStatuses.Committed, QuotaHoldStatuses.Held }))),
                new BsonDocument("$group", group));
            var sums = await (await holds.AggregateAsync(session, pipeline, cancellationToken: token)).ToListAsync(token);
            var counters = sums.Select(s =>
            {
                BsonDocument Part(string prefix) => new(QuotaRules.Names.Select(n => new BsonElement(n, s[prefix + n].ToInt64())));
                return new BsonDocument { ["_id"] = s["_id"], ["used"] = Part("used_"), ["held"] = Part("held_") };
            }).ToList();
            if (counters.Count > 0)
                await usage.InsertManyAsync(session, counters, cancellationToken: token);
            return true;
        }, cancellationToken);
}
