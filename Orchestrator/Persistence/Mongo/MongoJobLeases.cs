using MongoDB.Bson;
using MongoDB.Driver;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

public sealed class MongoJobLeases(MongoStorage storage) : IJobLeases
{
    public const string Collection = "job_leases";

    private IMongoCollection<BsonDocument> Leases => storage.Collection(Collection).WithWriteConcern(WriteConcern.WMajority);

    private static FilterDefinitionBuilder<BsonDocument> Filter => Builders<BsonDocument>.Filter;

    public async Task<bool> TryAcquireAsync(string job, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken)
    {
        var mine = Filter.And(Filter.Eq("_id", job), Filter.Or(Filter.Eq("holder", holder), Filter.Lte("expiresAt", now.UtcDateTime)));
        try
        {
            // Upsert: no lease yet inserts one; a lease another holds (unlapsed) matches nothing, and the insert it tries is a duplicate key.
            await Leases.UpdateOneAsync(mine, Builders<BsonDocument>.Update.Set("holder", holder).Set("expiresAt", (now + duration).UtcDateTime),
                new UpdateOptions { IsUpsert = true }, cancellationToken);
            return true;
        }
        catch (MongoWriteException ex) when (MongoStorage.IsDuplicate(ex))
        {
            return false;
        }
    }

    public Task ReleaseAsync(string job, string holder, CancellationToken cancellationToken)
        => Leases.DeleteOneAsync(Filter.And(Filter.Eq("_id", job), Filter.Eq("holder", holder)), cancellationToken);

    public async Task<IReadOnlyList<JobLease>> ListAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var documents = await storage.Collection(Collection)
            .Find(Filter.And(Filter.Regex("_id", new BsonRegularExpression("^" + System.Text.RegularExpressions.Regex.Escape(prefix))), Filter.Gt("expiresAt", now.UtcDateTime)))
            .Sort(Builders<BsonDocument>.Sort.Ascending("_id")).ToListAsync(cancellationToken);
        return documents.Select(d => new JobLease(d["_id"].AsString, d["holder"].AsString, new DateTimeOffset(d["expiresAt"].ToUniversalTime()))).ToList();
    }
}
