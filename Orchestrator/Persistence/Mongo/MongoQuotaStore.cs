using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Quota holds in MongoDB: one document per task (held, committed, released, expired), usage the sum
/// of committed ones. A hold reads usage and inserts itself in one transaction guarded per tenant,
/// so concurrent holds of one tenant are serialized and never overbook.
/// </summary>
public sealed class MongoQuotaStore : IQuotaStore
{
    private readonly MongoStorage _storage;
    private readonly TimeProvider _clock;
    private readonly IMongoCollection<BsonDocument> _holds;
    private readonly IMongoCollection<BsonDocument> _tenants;

    public MongoQuotaStore(MongoStorage storage, TimeProvider clock)
    {
        _storage = storage;
        _clock = clock;
        _holds = storage.Collection("quota_holds");
        _tenants = storage.Collection("tenants");
    }

    private static FilterDefinition<BsonDocument> Id(Guid taskId) => Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString());

    public Task<HoldOutcome> TryHoldAsync(Guid taskId, string tenantId, string? agentId, QuotaAmounts deltas, TimeSpan ttl, CancellationToken cancellationToken = default)
        => _storage.InTransactionAsync(async (session, token) =>
        {
            var now = _clock.GetUtcNow();
            await _storage.TakeGuardAsync(session, "quota:" + tenantId, token);
            var existing = await _holds.Find(session, Id(taskId)).FirstOrDefaultAsync(token);
            if (existing is not null)
                return new HoldOutcome(true, new DateTimeOffset(existing["expiresAt"].ToUniversalTime()), []);
            var (limits, used, held) = await ReadAsync(session, tenantId, now, token);
            if (limits is null)
                return new HoldOutcome(false, now, [new QuotaExcess("tenant", 0, 0, 0, 0)]);
            var exceeded = QuotaRules.Exceeded(limits, used, held, deltas).ToList();
            if (exceeded.Count > 0)
                return new HoldOutcome(false, now, exceeded);
            var expiresAt = now + ttl;
            var hold = MongoStorage.Amounts(deltas);
            hold["_id"] = taskId.ToString();
            hold["tenantId"] = tenantId;
            hold["agentId"] = agentId is null ? BsonNull.Value : agentId;
            hold["status"] = QuotaHoldStatuses.Held;
            hold["overLimit"] = false;
            hold["createdAt"] = now.UtcDateTime;
            hold["expiresAt"] = expiresAt.UtcDateTime;
            await _holds.InsertOneAsync(session, hold, cancellationToken: token);
            return new HoldOutcome(true, expiresAt, []);
        }, cancellationToken);

    public Task<CommitOutcome> CommitAsync(Guid taskId, string tenantId, QuotaAmounts deltas, CancellationToken cancellationToken = default)
        => _storage.InTransactionAsync(async (session, token) =>
        {
            var now = _clock.GetUtcNow();
            await _storage.TakeGuardAsync(session, "quota:" + tenantId, token);
            var existing = await _holds.Find(session, Id(taskId)).FirstOrDefaultAsync(token);
            var status = existing?["status"].AsString;
            if (status == QuotaHoldStatuses.Held && existing!["expiresAt"].ToUniversalTime() <= now.UtcDateTime)
                status = QuotaHoldStatuses.Expired;
            if (status == QuotaHoldStatuses.Committed)
                return new CommitOutcome(true, false);
            var overLimit = false;
            if (status != QuotaHoldStatuses.Held)
            {
                var (limits, used, held) = await ReadAsync(session, tenantId, now, token);
                overLimit = limits is not null && QuotaRules.Exceeded(limits, used, held, deltas).Any();
            }
            var update = Builders<BsonDocument>.Update
                .Set("status", QuotaHoldStatuses.Committed).Set("overLimit", overLimit).Set("settledAt", now.UtcDateTime)
                .Set("cpu", deltas.Cpu).Set("memoryMB", deltas.MemoryMB).Set("storageMB", deltas.StorageMB).Set("vmCount", deltas.VmCount)
                .SetOnInsert("tenantId", tenantId).SetOnInsert("createdAt", now.UtcDateTime).SetOnInsert("expiresAt", now.UtcDateTime);
            await _holds.UpdateOneAsync(session, Id(taskId), update, new UpdateOptions { IsUpsert = true }, token);
            return new CommitOutcome(true, overLimit, status != QuotaHoldStatuses.Held);
        }, cancellationToken);

    public Task ReleaseAsync(Guid taskId, CancellationToken cancellationToken = default)
        => _holds.UpdateOneAsync(Builders<BsonDocument>.Filter.And(Id(taskId), Builders<BsonDocument>.Filter.Eq("status", QuotaHoldStatuses.Held)),
            Builders<BsonDocument>.Update.Set("status", QuotaHoldStatuses.Released).Set("settledAt", _clock.GetUtcNow().UtcDateTime), cancellationToken: cancellationToken);

    public async Task<int> ExpireAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
        => (int)(await _holds.UpdateManyAsync(
            Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("status", QuotaHoldStatuses.Held), Builders<BsonDocument>.Filter.Lte("expiresAt", now.UtcDateTime)),
            Builders<BsonDocument>.Update.Set("status", QuotaHoldStatuses.Expired).Set("settledAt", now.UtcDateTime), cancellationToken: cancellationToken)).ModifiedCount;

    public async Task<QuotaUsage?> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        using var session = await _storage.Client.StartSessionAsync(cancellationToken: cancellationToken);
        var (limits, used, held) = await ReadAsync(session, tenantId, _clock.GetUtcNow(), cancellationToken);
        if (limits is null)
            return null;
        return new QuotaUsage(
            new QuotaLine(limits.Cpu, used.Cpu, held.Cpu), new QuotaLine(limits.MemoryMB, used.MemoryMB, held.MemoryMB),
            new QuotaLine(limits.StorageMB, used.StorageMB, held.StorageMB), new QuotaLine(limits.VmCount, used.VmCount, held.VmCount));
    }

    public async Task AdjustAsync(string tenantId, QuotaAmounts delta, CancellationToken cancellationToken = default)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        var row = MongoStorage.Amounts(delta);
        row["_id"] = "adjust-" + Guid.NewGuid().ToString("N");
        row["tenantId"] = tenantId;
        row["status"] = QuotaHoldStatuses.Committed;
        row["overLimit"] = false;
        row["createdAt"] = now;
        row["expiresAt"] = now;
        row["settledAt"] = now;
        await _holds.InsertOneAsync(row, cancellationToken: cancellationToken);
    }

    /// <summary>The usage filter of one tenant: committed rows, and held rows still within their TTL.</summary>
    internal static FilterDefinition<BsonDocument> LiveRows(string tenantId, DateTimeOffset now)
    {
        var f = Builders<BsonDocument>.Filter;
        return f.And(f.Eq("tenantId", tenantId), f.Or(
            f.Eq("status", QuotaHoldStatuses.Committed),
            f.And(f.Eq("status", QuotaHoldStatuses.Held), f.Gt("expiresAt", now.UtcDateTime))));
    }

    private async Task<(QuotaAmounts? Limits, QuotaAmounts Used, QuotaAmounts Held)> ReadAsync(IClientSessionHandle session, string tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var tenant = await _tenants.Find(session, Builders<BsonDocument>.Filter.Eq("_id", tenantId)).FirstOrDefaultAsync(cancellationToken);
        if (tenant is null)
            return (null, QuotaAmounts.Zero, QuotaAmounts.Zero);
        long[] used = new long[4], held = new long[4];
        var rows = await _holds.Find(session, LiveRows(tenantId, now)).ToListAsync(cancellationToken);
        foreach (var row in rows)
        {
            var target = row["status"].AsString == QuotaHoldStatuses.Committed ? used : held;
            for (var i = 0; i < 4; i++)
                target[i] += row[QuotaRules.Names[i]].ToInt64();
        }
        return (MongoStorage.Amounts(tenant["limits"]), new QuotaAmounts(used[0], used[1], used[2], used[3]), new QuotaAmounts(held[0], held[1], held[2], held[3]));
    }

}
