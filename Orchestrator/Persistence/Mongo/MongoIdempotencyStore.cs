using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

public sealed class MongoIdempotencyStore(MongoStorage storage, TimeProvider clock) : IIdempotencyStore
{
    private readonly AmbientCollection _keys = storage.Ambient("idempotency_keys");

    private static string Id(string tenantId, string key) => tenantId + "/" + key;

    public async Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default)
    {
        // Outside a transaction: insert, and on a duplicate key read the claim; inside one, read first (see AmbientCollection.TryInsertAsync).
        if (await _keys.TryInsertAsync(new BsonDocument
            {
                ["_id"] = Id(tenantId, key),
                ["bodyHash"] = bodyHash,
                ["taskId"] = taskId.ToString(),
                ["statusCode"] = BsonNull.Value,
                ["response"] = BsonNull.Value,
                ["createdAt"] = clock.GetUtcNow().UtcDateTime,
            }, cancellationToken))
            return null;
        var d = await _keys.Find(Builders<BsonDocument>.Filter.Eq("_id", Id(tenantId, key))).FirstAsync(cancellationToken);
        return new IdempotencyRecord(d["bodyHash"].AsString, Guid.Parse(d["taskId"].AsString),
            d["statusCode"].IsBsonNull ? null : d["statusCode"].ToInt32(), d["response"].IsBsonNull ? null : d["response"].AsString);
    }

    public Task SaveAnswerAsync(string tenantId, string key, int statusCode, string response, CancellationToken cancellationToken = default)
        => _keys.UpdateOneAsync(
            Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("_id", Id(tenantId, key)), Builders<BsonDocument>.Filter.Eq("statusCode", BsonNull.Value)),
            Builders<BsonDocument>.Update.Set("statusCode", statusCode).Set("response", response), null, cancellationToken);
}
