using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// How a task is stored in MongoDB: the queried fields at the top level (indexed), the whole
/// document under <c>doc</c> (its System.Text.Json form, so both adapters store the same shape),
/// and <c>version</c> always written, 0 included, for optimistic concurrency.
/// </summary>
public static class TaskDocumentMapping
{
    public const string Collection = "tasks";

    public static BsonDocument ToBson(TaskState task) => new()
    {
        ["_id"] = task.CorrelationId.ToString(),
        ["version"] = task.Version,
        ["state"] = task.CurrentState,
        ["tenantId"] = task.TenantId,
        ["action"] = task.Action,
        ["status"] = task.Status,
        ["agentId"] = task.AgentId is null ? BsonNull.Value : task.AgentId,
        ["createdAt"] = task.CreatedAt.UtcDateTime,
        ["updatedAt"] = task.UpdatedAt.UtcDateTime,
        ["deadlineAt"] = task.DeadlineAt is { } deadline ? deadline.UtcDateTime : BsonNull.Value,
        ["doc"] = BsonDocument.Parse(JsonSerializer.Serialize(task, SqliteTaskStore.Json)),
    };

    public static TaskState FromBson(BsonDocument document)
    {
        var json = document["doc"].AsBsonDocument.ToJson(new MongoDB.Bson.IO.JsonWriterSettings { OutputMode = MongoDB.Bson.IO.JsonOutputMode.RelaxedExtendedJson });
        var task = JsonSerializer.Deserialize<TaskState>(json, SqliteTaskStore.Json)!;
        task.Version = document["version"].ToInt32();
        return task;
    }

    public static FilterDefinition<BsonDocument> ById(Guid id) => Builders<BsonDocument>.Filter.Eq("_id", id.ToString());

    public static FilterDefinition<BsonDocument> ByIdAndVersion(Guid id, int version)
        => Builders<BsonDocument>.Filter.And(ById(id), Builders<BsonDocument>.Filter.Eq("version", version));

    public static FilterDefinition<BsonDocument> Query(TaskQuery query)
    {
        var f = Builders<BsonDocument>.Filter;
        var filters = new List<FilterDefinition<BsonDocument>>();
        if (query.TenantId is not null) filters.Add(f.Eq("tenantId", query.TenantId));
        if (query.Status is not null) filters.Add(f.Eq("status", query.Status));
        if (query.State is not null) filters.Add(f.Eq("state", query.State));
        if (query.Action is not null) filters.Add(f.Eq("action", query.Action));
        if (query.AgentId is not null) filters.Add(f.Eq("agentId", query.AgentId));
        if (query.CreatedBefore is { } before) filters.Add(f.Lte("createdAt", before.UtcDateTime));
        if (query.InFlight) filters.Add(f.Type("deadlineAt", BsonType.DateTime));
        return filters.Count == 0 ? f.Empty : f.And(filters);
    }

    public static readonly SortDefinition<BsonDocument> NewestFirst = Builders<BsonDocument>.Sort.Descending("createdAt").Ascending("_id");

    public static FilterDefinition<BsonDocument> Expired(DateTimeOffset now)
        => Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Ne("deadlineAt", BsonNull.Value), Builders<BsonDocument>.Filter.Lte("deadlineAt", now.UtcDateTime));

    /// <summary>The indexes every query above needs.</summary>
    public static IEnumerable<CreateIndexModel<BsonDocument>> Indexes()
    {
        var keys = Builders<BsonDocument>.IndexKeys;
        yield return new(keys.Ascending("tenantId").Descending("createdAt"), new CreateIndexOptions { Name = "tenant_created" });
        yield return new(keys.Descending("createdAt"), new CreateIndexOptions { Name = "created" });
        // Retention: ended tasks by age.
        yield return new(keys.Ascending("status").Ascending("updatedAt"), new CreateIndexOptions { Name = "status_updated" });
        yield return new(keys.Ascending("deadlineAt"), new CreateIndexOptions<BsonDocument>
        {
            Name = "deadline",
            PartialFilterExpression = Builders<BsonDocument>.Filter.Type("deadlineAt", BsonType.DateTime),
        });
        // A database from before may still have "state_updated" (state, updatedAt), for a query that is gone: harmless, left alone.
    }
}

/// <summary>
/// The task saga's documents in MongoDB (MongoDB.Driver 3.x; MassTransit.MongoDb is not used). Every call joins the running
/// store transaction when there is one.
/// </summary>
public sealed class MongoTaskStore : ITaskStore
{
    private readonly AmbientCollection _tasks;

    public MongoTaskStore(MongoStorage storage)
    {
        _tasks = storage.Ambient(TaskDocumentMapping.Collection);
    }

    public async Task<bool> TryInsertAsync(TaskState instance, CancellationToken cancellationToken)
    {
        if (instance.Version == 0)
            instance.Version = 1;
        return await _tasks.TryInsertAsync(TaskDocumentMapping.ToBson(instance), cancellationToken);
    }

    public async Task UpdateAsync(TaskState instance, CancellationToken cancellationToken)
    {
        var expected = instance.Version;
        instance.Version = expected + 1;
        var result = await _tasks.ReplaceOneAsync(TaskDocumentMapping.ByIdAndVersion(instance.CorrelationId, expected), TaskDocumentMapping.ToBson(instance),
            null, cancellationToken);
        if (result.MatchedCount != 1)
        {
            instance.Version = expected;
            throw new SagaVersionConflictException(instance.CorrelationId, $"version {expected} was changed by another update");
        }
    }

    public async Task DeleteAsync(TaskState instance, CancellationToken cancellationToken)
    {
        var result = await _tasks.DeleteOneAsync(TaskDocumentMapping.ByIdAndVersion(instance.CorrelationId, instance.Version), cancellationToken);
        if (result.DeletedCount != 1)
            throw new SagaVersionConflictException(instance.CorrelationId, "delete found another version");
    }

    public async Task<TaskState?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        var document = await _tasks.Find(TaskDocumentMapping.ById(id)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : TaskDocumentMapping.FromBson(document);
    }

    public Task<IReadOnlyList<TaskState>> LoadAllAsync(CancellationToken cancellationToken) => QueryAsync(new TaskQuery { Limit = int.MaxValue }, cancellationToken);

    public async Task<IReadOnlyList<TaskState>> QueryAsync(TaskQuery query, CancellationToken cancellationToken)
    {
        var documents = await _tasks.Find(TaskDocumentMapping.Query(query)).Sort(TaskDocumentMapping.NewestFirst)
            .Skip(query.Offset).Limit(query.Limit).ToListAsync(cancellationToken);
        return documents.Select(TaskDocumentMapping.FromBson).ToList();
    }

    public async Task<IReadOnlyList<(Guid TaskId, string State, DateTimeOffset DeadlineAt)>> FindExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        var documents = await _tasks.Find(TaskDocumentMapping.Expired(now)).Sort(Builders<BsonDocument>.Sort.Ascending("deadlineAt")).Limit(limit)
            .Project(Builders<BsonDocument>.Projection.Include("state").Include("deadlineAt")).ToListAsync(cancellationToken);
        return documents.Select(d => (Guid.Parse(d["_id"].AsString), d["state"].AsString, new DateTimeOffset(d["deadlineAt"].ToUniversalTime()))).ToList();
    }
}
