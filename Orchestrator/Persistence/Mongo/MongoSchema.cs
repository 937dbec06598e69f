using MongoDB.Bson;
using MongoDB.Driver;
using Microsoft.Extensions.Hosting;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>Every index the MongoDB adapters' queries need, and the data a new version needs, made at start-up (idempotent).</summary>
public static class MongoSchema
{
    private static IndexKeysDefinitionBuilder<BsonDocument> Keys => Builders<BsonDocument>.IndexKeys;

    private static CreateIndexModel<BsonDocument> Index(IndexKeysDefinition<BsonDocument> keys, string name) => new(keys, new CreateIndexOptions { Name = name });

    public static IReadOnlyDictionary<string, CreateIndexModel<BsonDocument>[]> Indexes { get; } = new Dictionary<string, CreateIndexModel<BsonDocument>[]>
    {
        [TaskDocumentMapping.Collection] = TaskDocumentMapping.Indexes().ToArray(),
        // A database from before may also have "tenant_status" (tenantId, status): a prefix of tenant_status_expiry, harmless.
        [MongoQuotaStore.LedgerCollection] =
        [
            Index(Keys.Ascending("tenantId").Ascending("status").Ascending("expiresAt"), "tenant_status_expiry"),
            Index(Keys.Ascending("status").Ascending("expiresAt"), "status_expiry"),
            Index(Keys.Ascending("settledAt"), "settled"),
        ],
        [MongoRetentionStore.ArchiveCollection] = [Index(Keys.Ascending("tenantId"), "tenant")],
        [MongoIdempotencyStore.Collection] = [Index(Keys.Ascending("createdAt"), "created")],
        [MongoAgentOutbox.Collection] = [Index(Keys.Ascending("createdAt"), "created"), Index(Keys.Ascending("pickupBy"), "pickup")],
        ["placements"] = [Index(Keys.Ascending("agentId"), "agent")],
        ["images"] = [Index(Keys.Ascending("name").Descending("publishedAt"), "name_published")],
        ["tenant_resources"] = [Index(Keys.Ascending("tenantId").Ascending("createdAt"), "tenant_created"), Index(Keys.Ascending("imageId"), "image"),
            Index(Keys.Ascending("agentId"), "agent")],
        ["vm_locks"] = [Index(Keys.Ascending("taskId"), "task")],
        [MongoTaskEventLog.Collection] = [Index(Keys.Ascending("tenantId").Ascending("_id"), "tenant_seq"), Index(Keys.Ascending("taskId").Ascending("_id"), "task_seq")],
        [MongoWebhookStore.Collection] = [Index(Keys.Ascending("tenantId").Ascending("createdAt"), "tenant_created"),
            Index(Keys.Ascending("status").Ascending("nextAttemptAt"), "status_next_attempt")],
        [MongoDeadLetterStore.Collection] = [Index(Keys.Ascending("taskId").Descending("receivedAt"), "task_received"), Index(Keys.Descending("receivedAt"), "received")],
    };

    /// <summary>Creates the indexes, then the quota counters of a database from before them (once).</summary>
    public static async Task EnsureAsync(MongoStorage storage, CancellationToken cancellationToken)
    {
        foreach (var (collection, indexes) in Indexes)
            await storage.Collection(collection).Indexes.CreateManyAsync(indexes, cancellationToken);
        await MongoQuotaStore.BuildCountersAsync(storage, cancellationToken);
    }
}

public sealed class MongoSchemaInitializer(MongoStorage storage) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => MongoSchema.EnsureAsync(storage, cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
