using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks.Pipeline;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Tasks stored for their agent (<c>agent_outbox</c>: <c>{ _id: taskId, agentId, message, createdAt }</c>, the message
/// the <see cref="AgentTask"/>'s JSON text). Every call joins the running store transaction.
/// </summary>
public sealed class MongoAgentOutbox(MongoStorage storage) : IAgentOutbox
{
    public const string Collection = "agent_outbox";

    private readonly AmbientCollection _outbox = storage.Ambient(Collection);

    public Task AddAsync(AgentTask task, DateTimeOffset at, CancellationToken cancellationToken)
        => _outbox.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", task.TaskId.ToString()), Builders<BsonDocument>.Update
                .Set("agentId", task.AgentId)
                .Set("message", JsonSerializer.Serialize(task, JsonSerializerOptions.Web))
                .SetOnInsert("createdAt", at.UtcDateTime),
            new UpdateOptions { IsUpsert = true }, cancellationToken);

    public Task RemoveAsync(Guid taskId, CancellationToken cancellationToken)
        => _outbox.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString()), cancellationToken);

    public async Task<IReadOnlyList<AgentTask>> ListAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken, int skip = 0)
    {
        var documents = await _outbox.Find(Builders<BsonDocument>.Filter.Lte("createdAt", before.UtcDateTime))
            .Sort(Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id")).Skip(skip).Limit(limit).ToListAsync(cancellationToken);
        return documents.Select(d => JsonSerializer.Deserialize<AgentTask>(d["message"].AsString, JsonSerializerOptions.Web)!).ToList();
    }
}
