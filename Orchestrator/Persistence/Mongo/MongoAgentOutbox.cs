using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Tasks stored for their agent (<c>agent_outbox</c>: <c>{ _id: taskId, agentId, message, createdAt, pickupBy, owner }</c>, the message
/// the <see cref="AgentTask"/>'s JSON text). Every call joins the running store transaction.
/// </summary>
public sealed class MongoAgentOutbox(MongoStorage storage, Cluster.OrchestratorInstance instance) : IAgentOutbox
{
    public const string Collection = "agent_outbox";

    private readonly AmbientCollection _outbox = storage.Ambient(Collection);

    public Task AddAsync(AgentTask task, DateTimeOffset at, DateTimeOffset? pickupBy, CancellationToken cancellationToken)
        => _outbox.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", task.TaskId.ToString()), Builders<BsonDocument>.Update
                .Set("agentId", task.AgentId)
                .Set("message", JsonSerializer.Serialize(task, JsonSerializerOptions.Web))
                .SetOnInsert("createdAt", at.UtcDateTime)
                .Set("owner", instance.Id)
                .Set("pickupBy", pickupBy is { } by ? (BsonValue)by.UtcDateTime : BsonNull.Value),
            new UpdateOptions { IsUpsert = true }, cancellationToken);

    public Task RemoveAsync(Guid taskId, CancellationToken cancellationToken)
        => _outbox.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString()), cancellationToken);

    public async Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0, string? owner = null)
    {
        var f = Builders<BsonDocument>.Filter;
        var filter = f.Lte("createdAt", before.UtcDateTime);
        if (owner is not null)
            filter = f.And(filter, f.Eq("owner", owner));
        var documents = await _outbox.Find(filter)
            .Sort(Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id")).Skip(skip).Limit(limit).ToListAsync(cancellationToken);
        return Read(documents);
    }

    public async Task<long> AdoptAsync(string owner, IReadOnlySet<string> liveOwners, CancellationToken cancellationToken)
        // $nin also matches entries without an owner (stored before owners existed).
        => (await _outbox.UpdateManyAsync(Builders<BsonDocument>.Filter.Nin("owner", liveOwners), Builders<BsonDocument>.Update.Set("owner", owner), cancellationToken))
            .ModifiedCount;

    public Task<long> CountAsync(CancellationToken cancellationToken) => _outbox.CountDocumentsAsync(Builders<BsonDocument>.Filter.Empty, cancellationToken);

    public async Task<IReadOnlyList<AgentTask>> FindUnpickedAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        // A null pickupBy (no window) sorts below every date in MongoDB, so the range excludes it explicitly.
        var f = Builders<BsonDocument>.Filter;
        var documents = await _outbox.Find(f.And(f.Type("pickupBy", BsonType.DateTime), f.Lte("pickupBy", now.UtcDateTime)))
            .Sort(Builders<BsonDocument>.Sort.Ascending("pickupBy")).Limit(limit).ToListAsync(cancellationToken);
        return Read(documents);
    }

    private static List<AgentTask> Read(IEnumerable<BsonDocument> documents)
        => documents.Select(d => JsonSerializer.Deserialize<AgentTask>(d["message"].AsString, JsonSerializerOptions.Web)!).ToList();
}
