using MongoDB.Bson;
using MongoDB.Driver;
using Microsoft.Extensions.Hosting;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>Every index the MongoDB adapters' queries need, created at start-up (idempotent).</summary>
public static class MongoSchema
{
    private static IndexKeysDefinitionBuilder<BsonDocument> Keys => Builders<BsonDocument>.IndexKeys;

    private static CreateIndexModel<BsonDocument> Index(IndexKeysDefinition<BsonDocument> keys, string name) => new(keys, new CreateIndexOptions { Name = name });

    public static IReadOnlyDictionary<string, CreateIndexModel<BsonDocument>[]> Indexes { get; } = new Dictionary<string, CreateIndexModel<BsonDocument>[]>
    {
        [TaskDocumentMapping.Collection] = TaskDocumentMapping.Indexes().ToArray(),
        ["quota_holds"] = [Index(Keys.Ascending("tenantId").Ascending("status"), "tenant_status"), Index(Keys.Ascending("status").Ascending("expiresAt"), "status_expiry")],
        ["placements"] = [Index(Keys.Ascending("agentId"), "agent")],
        ["images"] = [Index(Keys.Ascending("name").Descending("publishedAt"), "name_published")],
        ["tenant_resources"] = [Index(Keys.Ascending("tenantId").Ascending("createdAt"), "tenant_created"), Index(Keys.Ascending("imageId"), "image")],
        ["vm_locks"] = [Index(Keys.Ascending("taskId"), "task")],
    };

    public static async Task EnsureAsync(MongoStorage storage, CancellationToken cancellationToken)
    {
        foreach (var (collection, indexes) in Indexes)
            await storage.Collection(collection).Indexes.CreateManyAsync(indexes, cancellationToken);
    }
}

public sealed class MongoSchemaInitializer(MongoStorage storage) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => MongoSchema.EnsureAsync(storage, cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
