using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

public sealed class MongoTenantStore(MongoStorage storage, TimeProvider clock) : ITenantStore
{
    private readonly AmbientCollection _tenants = storage.Ambient("tenants");

    internal static BsonDocument ToBson(Tenant tenant, DateTimeOffset createdAt) => new()
    {
        ["_id"] = tenant.TenantId,
        ["name"] = tenant.Name,
        ["status"] = tenant.Status,
        ["limits"] = MongoStorage.Amounts(tenant.Limits),
        ["createdAt"] = createdAt.UtcDateTime,
    };

    internal static Tenant FromBson(BsonDocument d)
        => new(d["_id"].AsString, d["name"].AsString, d["status"].AsString, MongoStorage.Amounts(d["limits"]),
            d.TryGetValue("createdAt", out var created) && created.IsValidDateTime ? new DateTimeOffset(created.ToUniversalTime()) : default);

    public async Task<Tenant?> GetAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var document = await _tenants.Find(Builders<BsonDocument>.Filter.Eq("_id", tenantId)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : FromBson(document);
    }

    public async Task UpsertAsync(Tenant tenant, CancellationToken cancellationToken = default)
    {
        var update = Builders<BsonDocument>.Update
            .Set("name", tenant.Name).Set("status", tenant.Status).Set("limits", MongoStorage.Amounts(tenant.Limits))
            .SetOnInsert("createdAt", clock.GetUtcNow().UtcDateTime);
        await _tenants.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", tenant.TenantId), update, new UpdateOptions { IsUpsert = true }, cancellationToken);
    }

    public Task<bool> TryCreateAsync(Tenant tenant, CancellationToken cancellationToken = default)
        => _tenants.TryInsertAsync(ToBson(tenant, clock.GetUtcNow()), cancellationToken);

    public async Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default)
        => (await _tenants.Find(Builders<BsonDocument>.Filter.Empty).Sort(Builders<BsonDocument>.Sort.Ascending("_id")).ToListAsync(cancellationToken))
            .Select(FromBson).ToList();

    /// <summary>The tenant and everything it owns, in one transaction (the running one, when there is one).</summary>
    public Task<bool> DeleteAsync(string tenantId, CancellationToken cancellationToken = default)
        => storage.InTransactionAsync(async (session, token) =>
        {
            var f = Builders<BsonDocument>.Filter;
            var ofTenant = f.Eq("tenantId", tenantId);
            // Keys of the form "<tenantId>/...": tenant ids are [a-z0-9_-], nothing to escape.
            var keyedByTenant = f.Regex("_id", new BsonRegularExpression("^" + tenantId + "/"));
            var taskIds = (await storage.Collection(TaskDocumentMapping.Collection).Find(session, ofTenant)
                .Project(Builders<BsonDocument>.Projection.Include("_id")).ToListAsync(token)).Select(d => d["_id"]).ToList();
            await storage.Collection("placements").DeleteManyAsync(session, f.In("_id", taskIds), cancellationToken: token);
            await storage.Collection("vm_locks").DeleteManyAsync(session, f.In("taskId", taskIds), cancellationToken: token);
            await storage.Collection(MongoAgentOutbox.Collection).DeleteManyAsync(session, f.In("_id", taskIds), cancellationToken: token);
            await storage.Collection(TaskDocumentMapping.Collection).DeleteManyAsync(session, ofTenant, cancellationToken: token);
            await storage.Collection(MongoRetentionStore.ArchiveCollection).DeleteManyAsync(session, ofTenant, cancellationToken: token);
            await storage.Collection(MongoQuotaStore.LedgerCollection).DeleteManyAsync(session, ofTenant, cancellationToken: token);
            await storage.Collection(MongoQuotaStore.CountersCollection).DeleteOneAsync(session, f.Eq("_id", tenantId), cancellationToken: token);
            await storage.Collection(MongoIdempotencyStore.Collection).DeleteManyAsync(session, keyedByTenant, cancellationToken: token);
            await storage.Collection("vm_names").DeleteManyAsync(session, keyedByTenant, cancellationToken: token);
            await storage.Collection("tenant_resources").DeleteManyAsync(session, ofTenant, cancellationToken: token);
            await storage.Collection(MongoWebhookStore.Collection).DeleteManyAsync(session, ofTenant, cancellationToken: token);
            return (await storage.Collection("tenants").DeleteOneAsync(session, f.Eq("_id", tenantId), cancellationToken: token)).DeletedCount == 1;
        }, cancellationToken);
}
