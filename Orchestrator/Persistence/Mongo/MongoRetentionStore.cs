using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Retention's batches on MongoDB: archiving is one session transaction per batch (a task is removed only at the version it was
/// read at, so one changed meanwhile stays for the next sweep); deletions are one <c>deleteMany</c> over a batch of ids.
/// </summary>
public sealed class MongoRetentionStore(MongoStorage storage, TimeProvider clock) : IRetentionStore
{
    public const string ArchiveCollection = "tasks_archive";

    private static FilterDefinitionBuilder<BsonDocument> F => Builders<BsonDocument>.Filter;

    private static readonly string[] Ended = [.. TaskStatuses.All.Where(TaskStatuses.IsFinal)];

    private static readonly string[] Settled = [QuotaHoldStatuses.Committed, QuotaHoldStatuses.Released, QuotaHoldStatuses.Expired];

    public Task<int> ArchiveFinishedTasksAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
        => storage.InTransactionAsync(async (session, token) =>
        {
            var tasks = storage.Collection(TaskDocumentMapping.Collection);
            var due = await tasks.Find(session, F.And(F.In("status", Ended), F.Lte("updatedAt", before.UtcDateTime))).Limit(limit).ToListAsync(token);
            var archived = new BsonArray();
            foreach (var task in due)
            {
                if ((await tasks.DeleteOneAsync(session, F.And(F.Eq("_id", task["_id"]), F.Eq("version", task["version"])), cancellationToken: token)).DeletedCount != 1)
                    continue;
                task["archivedAt"] = clock.GetUtcNow().UtcDateTime;
                await storage.Collection(ArchiveCollection).ReplaceOneAsync(session, F.Eq("_id", task["_id"]), task, new ReplaceOptions { IsUpsert = true }, token);
                archived.Add(task["_id"]);
            }
            if (archived.Count == 0)
                return 0;
            await storage.Collection(MongoTaskEventLog.Collection).DeleteManyAsync(session, F.In("taskId", archived), cancellationToken: token);
            await storage.Collection("placements").DeleteManyAsync(session, F.In("_id", archived), cancellationToken: token);
            await storage.Collection("vm_locks").DeleteManyAsync(session, F.In("taskId", archived), cancellationToken: token);
            await storage.Collection(MongoAgentOutbox.Collection).DeleteManyAsync(session, F.In("_id", archived), cancellationToken: token);
            return archived.Count;
        }, cancellationToken);

    public async Task<TaskState?> LoadArchivedAsync(Guid taskId, CancellationToken cancellationToken)
    {
        var document = await storage.Collection(ArchiveCollection).Find(TaskDocumentMapping.ById(taskId)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : TaskDocumentMapping.FromBson(document);
    }

    public async Task<int> DeleteIdempotencyKeysAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        var keys = storage.Collection(MongoIdempotencyStore.Collection);
        var due = F.Lte("createdAt", before.UtcDateTime);
        var ids = await IdsAsync(keys, due, limit, cancellationToken);
        // Claimed anew meanwhile (a later createdAt): kept.
        return ids.Count == 0 ? 0 : (int)(await keys.DeleteManyAsync(F.And(F.In("_id", ids), due), cancellationToken)).DeletedCount;
    }

    public async Task<int> CompactSettledHoldsAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        var ledger = storage.Collection(MongoQuotaStore.LedgerCollection);
        var settled = F.And(F.In("status", Settled), F.Lte("settledAt", before.UtcDateTime));
        // Task keys only (a task id in its "D" form); corrections ("adjust-…", "reconcile-…") are kept.
        var candidates = await IdsAsync(ledger, F.And(settled, F.Regex("_id", new BsonRegularExpression("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\z"))), limit, cancellationToken);
        if (candidates.Count == 0)
            return 0;
        var ended = await IdsAsync(storage.Collection(TaskDocumentMapping.Collection), F.And(F.In("_id", candidates), F.In("status", Ended)), limit, cancellationToken);
        var archived = await IdsAsync(storage.Collection(ArchiveCollection), F.In("_id", candidates), limit, cancellationToken);
        var deletable = ended.Concat(archived).ToList();
        return deletable.Count == 0 ? 0 : (int)(await ledger.DeleteManyAsync(F.And(F.In("_id", deletable), settled), cancellationToken)).DeletedCount;
    }

    private static async Task<List<BsonValue>> IdsAsync(IMongoCollection<BsonDocument> collection, FilterDefinition<BsonDocument> filter, int limit,
        CancellationToken cancellationToken)
        => (await collection.Find(filter).Project(Builders<BsonDocument>.Projection.Include("_id")).Limit(limit).ToListAsync(cancellationToken))
            .Select(d => d["_id"]).ToList();
}
