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
    private readonly AmbientCollection _reconciliations;

    public MongoResourceStore(MongoStorage storage)
    {
        _resources = storage.Ambient("tenant_resources");
        _names = storage.Ambient("vm_names");
        _locks = storage.Ambient("vm_locks");
        _reconciliations = storage.Ambient("agent_reconciliations");
    }

    internal static string NameId(string tenantId, string name) => tenantId + "/" + name.ToLowerInvariant();

    private static FilterDefinition<BsonDocument> Owned(string tenantId, string resourceId)
        => Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("_id", resourceId), Builders<BsonDocument>.Filter.Eq("tenantId", tenantId));

    // Documents written before reconciliation have no state, gone time, agent change time or recharge: present, unknown, none.
    private static TenantResource FromBson(BsonDocument d) => new(
        d["_id"].AsString, d["tenantId"].AsString, d["kind"].AsString, d["agentId"].AsString, d["name"].AsString, Guid.Parse(d["taskId"].AsString),
        d["late"].ToBoolean(), new DateTimeOffset(d["createdAt"].ToUniversalTime()), d["charge"].IsBsonNull ? null : MongoStorage.Amounts(d["charge"]),
        d.TryGetValue("imageId", out var image) && image.IsString ? image.AsString : null,
        d.TryGetValue("state", out var state) && state.IsString ? state.AsString : ResourceStates.Present,
        Time(d, "goneAt"), Time(d, "agentChangedAt"),
        d.TryGetValue("recharged", out var r) && r.IsBsonDocument
            ? new ResourceRecharge(MongoStorage.Amounts(r["before"]), new DateTimeOffset(r["at"].ToUniversalTime()), r["overLimit"].ToBoolean())
            : null);

    private static DateTimeOffset? Time(BsonDocument d, string field)
        => d.TryGetValue(field, out var value) && value.IsValidDateTime ? new DateTimeOffset(value.ToUniversalTime()) : null;

    private static BsonValue Time(DateTimeOffset? value) => value is { } at ? at.UtcDateTime : BsonNull.Value;

    private static BsonValue Recharge(ResourceRecharge? recharge) => recharge is null
        ? BsonNull.Value
        : new BsonDocument { ["before"] = MongoStorage.Amounts(recharge.Before), ["at"] = recharge.At.UtcDateTime, ["overLimit"] = recharge.OverLimit };

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
            ["state"] = resource.State,
            ["goneAt"] = Time(resource.GoneAt),
            ["agentChangedAt"] = Time(resource.AgentChangedAt),
            ["recharged"] = Recharge(resource.Recharged),
        }, cancellationToken);
        await TryReserveNameAsync(resource.TenantId, resource.Name, resource.TaskId, cancellationToken);
    }

    public async Task<int> CountBuiltFromAsync(string imageId, CancellationToken cancellationToken = default)
        => (int)await _resources.CountDocumentsAsync(Builders<BsonDocument>.Filter.Eq("imageId", imageId), cancellationToken);

    public async Task<IReadOnlyList<TenantResource>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
        => (await _resources.Find(Builders<BsonDocument>.Filter.Eq("tenantId", tenantId)).Sort(Builders<BsonDocument>.Sort.Ascending("createdAt"))
            .ToListAsync(cancellationToken)).Select(FromBson).ToList();

    public async Task<IReadOnlyList<TenantResource>> ListOnAgentAsync(string agentId, CancellationToken cancellationToken = default)
        => (await _resources.Find(Builders<BsonDocument>.Filter.Eq("agentId", agentId)).Sort(Builders<BsonDocument>.Sort.Ascending("createdAt"))
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
            .Set<BsonDocument, BsonValue>("charge", resource.Charge is null ? BsonNull.Value : MongoStorage.Amounts(resource.Charge))
            .Set("state", resource.State)
            .Set("goneAt", Time(resource.GoneAt))
            .Set("agentChangedAt", Time(resource.AgentChangedAt))
            .Set("recharged", Recharge(resource.Recharged)), null, cancellationToken);
        if (!string.Equals(previousName, resource.Name, StringComparison.OrdinalIgnoreCase))
            await _names.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", NameId(resource.TenantId, previousName)), cancellationToken);
    }

    public Task<bool> TryLockAsync(string resourceId, Guid taskId, CancellationToken cancellationToken = default)
        => TryClaimAsync(_locks, resourceId, taskId, [], cancellationToken);

    public Task UnlockAsync(Guid taskId, CancellationToken cancellationToken = default)
        => _locks.DeleteManyAsync(Builders<BsonDocument>.Filter.Eq("taskId", taskId.ToString()), cancellationToken);

    public async Task<AgentReconciliation?> GetReconciliationAsync(string agentId, CancellationToken cancellationToken = default)
    {
        var d = await _reconciliations.Find(Builders<BsonDocument>.Filter.Eq("_id", agentId)).FirstOrDefaultAsync(cancellationToken);
        return d is null
            ? null
            : new AgentReconciliation(agentId, new DateTimeOffset(d["collectedAt"].ToUniversalTime()), new DateTimeOffset(d["reconciledAt"].ToUniversalTime()),
                d["unmanaged"].AsBsonArray.Select(v => v.AsBsonDocument).Select(v => new UnmanagedVm(v["vmId"].AsString, v["name"].AsString,
                    v["cpu"].IsBsonNull ? null : v["cpu"].ToInt64(), v["memoryMB"].IsBsonNull ? null : v["memoryMB"].ToInt64(),
                    new DateTimeOffset(v["firstSeenAt"].ToUniversalTime()))).ToList());
    }

    public Task SaveReconciliationAsync(AgentReconciliation reconciliation, CancellationToken cancellationToken = default)
        => _reconciliations.ReplaceOneAsync(Builders<BsonDocument>.Filter.Eq("_id", reconciliation.AgentId), new BsonDocument
        {
            ["_id"] = reconciliation.AgentId,
            ["collectedAt"] = reconciliation.CollectedAt.UtcDateTime,
            ["reconciledAt"] = reconciliation.ReconciledAt.UtcDateTime,
            ["unmanaged"] = new BsonArray(reconciliation.Unmanaged.Select(v => new BsonDocument
            {
                ["vmId"] = v.VmId,
                ["name"] = v.Name,
                ["cpu"] = v.Cpu is { } cpu ? cpu : BsonNull.Value,
                ["memoryMB"] = v.MemoryMB is { } memory ? memory : BsonNull.Value,
                ["firstSeenAt"] = v.FirstSeenAt.UtcDateTime,
            })),
        }, new ReplaceOptions { IsUpsert = true }, cancellationToken);

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
