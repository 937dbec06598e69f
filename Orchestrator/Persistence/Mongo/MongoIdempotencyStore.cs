using MongoDB.Bson;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>Idempotency keys; a key past <see cref="RetentionOptions.IdempotencyKeys"/> is claimed anew, as if absent (without options: kept forever).</summary>
public sealed class MongoIdempotencyStore(MongoStorage storage, TimeProvider clock, IOptions<OrchestratorOptions>? options = null) : IIdempotencyStore
{
    public const string Collection = "idempotency_keys";

    private readonly AmbientCollection _keys = storage.Ambient(Collection);

    private static string Id(string tenantId, string key) => tenantId + "/" + key;

    public async Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var claim = new BsonDocument
        {
            ["_id"] = Id(tenantId, key),
            ["bodyHash"] = bodyHash,
            ["taskId"] = taskId.ToString(),
            ["statusCode"] = BsonNull.Value,
            ["response"] = BsonNull.Value,
            ["createdAt"] = now.UtcDateTime,
        };
        // Outside a transaction: insert, and on a duplicate key read the claim; inside one, read first (see AmbientCollection.TryInsertAsync).
        if (await _keys.TryInsertAsync(claim, cancellationToken))
            return null;
        // An expired claim is replaced whole; of two racing claimers only one still matches its old createdAt.
        var f = Builders<BsonDocument>.Filter;
        if (options is not null && RetentionOptions.Cutoff(now, options.Value.Retention.IdempotencyKeys) is { } expired
            && (await _keys.ReplaceOneAsync(f.And(f.Eq("_id", claim["_id"]), f.Lte("createdAt", expired.UtcDateTime)), claim, null, cancellationToken)).MatchedCount == 1)
            return null;
        var d = await _keys.Find(Builders<BsonDocument>.Filter.Eq("_id", Id(tenantId, key))).FirstAsync(cancellationToken);
        return new IdempotencyRecord(d["bodyHash"].AsString, Guid.Parse(d["taskId"].AsString),
            d["statusCode"].IsBsonNull ? null : d["statusCode"].ToInt32(), d["response"].IsBsonNull ? null : d["response"].AsString);
    }

    public Task SaveAnswerAsync(string tenantId, string key, Guid taskId, int statusCode, string response, CancellationToken cancellationToken = default)
        => _keys.UpdateOneAsync(
            Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("_id", Id(tenantId, key)), Builders<BsonDocument>.Filter.Eq("taskId", taskId.ToString()),
                Builders<BsonDocument>.Filter.Eq("statusCode", BsonNull.Value)),
            Builders<BsonDocument>.Update.Set("statusCode", statusCode).Set("response", response), null, cancellationToken);
}
