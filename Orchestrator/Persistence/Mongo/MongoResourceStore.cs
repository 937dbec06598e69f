using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Resources;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>Tenant resources, VM names (unique per tenant, case-insensitive) and single-flight VM locks in MongoDB.</summary>
public sealed class MongoResourceStore : IResourceStore
{
    private readonly AmbientCollection _resources;
    private readonly AmbientCollection _names;
    private readonly AmbientCollection _locks;

    public MongoResourceStore(MongoStorage storage)
    {
        _resources = storage.Ambient("tenant_resources");
        _names = storage.Ambient("vm_names");
        _locks = storage.Ambient("vm_locks");
    }

    internal static string NameId(string tenantId, string name) => tenantId + "/" + name.ToLowerInvariant();

    private static FilterDefinition<BsonDocument> Owned(string tenantId, string resourceId)
        => Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("_id", resourceId), Builders<BsonDocument>.Filter.Eq("tenantId", tenantId));

    private static TenantResource FromBson(BsonDocument d) => new(
        d["_id"].AsString, d["tenantId"].AsString, d["kind"].AsString, d["agentId"].AsString, d["name"].AsString, Guid.Parse(d["taskId"].AsString),
        d["late"].ToBoolean(), new DateTimeOffset(d["createdAt"].ToUniversalTime()), d["charge"].IsBsonNull ? null : MongoStorage.Amounts(d["charge"]),
        d.TryGetValue("imageId", out var image) && image.IsString ? image.AsString : null);

    public async Task LinkAsync(TenantResource resource, CancellationToken cancellationToken = default)
    {
        // Linked once: a second link of the same resource (a redelivered result) changes nothing.
        await _resources.TryInsertAsync(new BsonDocument
        {
            ["_id"] = resource.ResourceId,
            ["tenantId"] = resource.TenantId,
            ["kind"] = resource.Kind,
            ["agentId"] = resource.AgentId,
            ["name"] = resource.Name,
            ["taskId"] = resource.TaskId.ToString(),
            ["late"] = resource.Late,
            ["charge"] = resource.Charge is null ? BsonNull.Value : MongoStorage.Amounts(resource.Charge),
            ["createdAt"] = resource.CreatedAt.UtcDateTime,
            ["imageId"] = resource.ImageId is null ? BsonNull.Value : resource.ImageId,
        }, cancellationToken);
        await TryReserveNameAsync(resource.TenantId, resource.Name, resource.TaskId, cancellationToken);
    }

    public async Task<int> CountBuiltFromAsync(string imageId, CancellationToken cancellationToken = default)
        => (int)await _resources.CountDocumentsAsync(Builders<BsonDocument>.Filter.Eq("imageId", imageId), cancellationToken);

    public async Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
        => (await _resources.Find(Builders<BsonDocument>.Filter.Eq("tenantId", tenantId)).Sort(Builders<BsonDocument>.Sort.Ascending("createdAt"))
            .ToListAsync(cancellationToken)).Select(FromBson).ToList();

    public async Task<TenantResource?> GetAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default)
    {
        var d = await _resources.Find(Owned(tenantId, resourceId)).FirstOrDefaultAsync(cancellationToken);
        return d is null ? null : FromBson(d);
    }

    public async Task<bool> TryReserveNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
        => await TryClaimAsync(_names, NameId(tenantId, name), taskId, new BsonDocument { ["tenantId"] = tenantId, ["name"] = name }, cancellationToken);

    public Task ReleaseNameAsync(string tenantId, string name, Guid taskId, CancellationToken cancellationToken = default)
        => _names.DeleteOneAsync(Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("_id", NameId(tenantId, name)),
            Builders<BsonDocument>.Filter.Eq("taskId", taskId.ToString())), cancellationToken);

    public async Task UnlinkAsync(string tenantId, string resourceId, CancellationToken cancellationToken = default)
    {
        if (await GetAsync(tenantId, resourceId, cancellationToken) is { } resource)
            await _names.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", NameId(tenantId, resource.Name)), cancellationToken);
        await _resources.DeleteOneAsync(Owned(tenantId, resourceId), cancellationToken);
    }

    public async Task UpdateAsync(TenantResource resource, string previousName, CancellationToken cancellationToken = default)
    {
        await _resources.UpdateOneAsync(Owned(resource.TenantId, resource.ResourceId), Builders<BsonDocument>.Update
            .Set("name", resource.Name)
            .Set<BsonDocument, BsonValue>("charge", resource.Charge is null ? BsonNull.Value : MongoStorage.Amounts(resource.Charge)), null, cancellationToken);
        if (!string.Equals(previousName, resource.Name, StringComparison.OrdinalIgnoreCase))
            await _names.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", NameId(resource.TenantId, previousName)), cancellationToken);
    }

    public Task<bool> TryLockAsync(string resourceId, Guid taskId, CancellationToken cancellationToken = default)
        => TryClaimAsync(_locks, resourceId, taskId, [], cancellationToken);

    public Task UnlockAsync(Guid taskId, CancellationToken cancellationToken = default)
        => _locks.DeleteManyAsync(Builders<BsonDocument>.Filter.Eq("taskId", taskId.ToString()), cancellationToken);

    /// <summary>
    /// Claims a document for a task; true when this task holds it (now or already). Outside a transaction: insert and, on
    /// a duplicate key, read the holder. Inside one a write error would abort the whole transaction, so it reads the holder
    /// first and inserts only when there is none (a concurrent claim then fails the transaction, which is retried whole).
    /// </summary>
    private static async Task<bool> TryClaimAsync(AmbientCollection collection, string id, Guid taskId, BsonDocument extra, CancellationToken cancellationToken)
    {
        var document = new BsonDocument { ["_id"] = id, ["taskId"] = taskId.ToString(), ["createdAt"] = DateTime.UtcNow };
        document.AddRange(extra);
        if (collection.Session is not null)
        {
            var holder = await collection.Find(Builders<BsonDocument>.Filter.Eq("_id", id)).FirstOrDefaultAsync(cancellationToken);
            if (holder is not null)
                return holder["taskId"].AsString == taskId.ToString();
            await collection.InsertOneAsync(document, cancellationToken);
            return true;
        }
        try
        {
            await collection.InsertOneAsync(document, cancellationToken);
            return true;
        }
        catch (MongoWriteException ex) when (MongoStorage.IsDuplicate(ex))
        {
            var holder = await collection.Find(Builders<BsonDocument>.Filter.Eq("_id", id)).FirstOrDefaultAsync(cancellationToken);
            return holder?["taskId"].AsString == taskId.ToString();
        }
    }
}
