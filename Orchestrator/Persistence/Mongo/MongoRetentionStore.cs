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
        var ids = (await ledger.Aggregate(Compactable(before, limit), cancellationToken: cancellationToken).ToListAsync(cancellationToken))
            .Select(d => d["_id"]).ToList();
        return ids.Count == 0 ? 0 : (int)(await ledger.DeleteManyAsync(F.And(F.In("_id", ids), SettledBy(before)), cancellationToken)).DeletedCount;
    }

    /// <summary>
    /// The ids of up to <paramref name="limit"/> ledger rows to compact: settled by <paramref name="before"/>, of a task that has ended
    /// or is archived. The limit applies after the task is looked up (by <c>_id</c>, its index), as SQLite's query does: a limit
    /// before it would let old settled rows of tasks still running fill every batch, and nothing past them would ever be compacted.
    /// (<c>$lookup</c> with both <c>localField</c> and <c>pipeline</c>: MongoDB 5.0 or later.)
    /// </summary>
    internal static PipelineDefinition<BsonDocument, BsonDocument> Compactable(DateTimeOffset before, int limit)
    {
        static BsonDocument TaskLookup(string from, string name, params BsonDocument[] stages) => new("$lookup", new BsonDocument
        {
            ["from"] = from,
            ["localField"] = "_id",
            ["foreignField"] = "_id",
            ["pipeline"] = new BsonArray(stages.Append(new BsonDocument("$project", new BsonDocument("_id", 1)))),
            ["as"] = name,
        });
        return new EmptyPipelineDefinition<BsonDocument>()
            // Task keys only (a task id in its "D" form); corrections ("adjust-…", "reconcile-…") are kept.
            .Match(F.And(SettledBy(before), F.Regex("_id", new BsonRegularExpression("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\z"))))
            .AppendStage<BsonDocument, BsonDocument, BsonDocument>(TaskLookup(TaskDocumentMapping.Collection, "ended",
                new BsonDocument("$match", new BsonDocument("status", new BsonDocument("$in", new BsonArray(Ended))))))
            .AppendStage<BsonDocument, BsonDocument, BsonDocument>(TaskLookup(ArchiveCollection, "archived"))
            .Match(F.Or(F.SizeGt("ended", 0), F.SizeGt("archived", 0)))
            .Limit(limit)
            .Project(Builders<BsonDocument>.Projection.Include("_id"));
    }

    private static FilterDefinition<BsonDocument> SettledBy(DateTimeOffset before) => F.And(F.In("status", Settled), F.Lte("settledAt", before.UtcDateTime));

    private static async Task<List<BsonValue>> IdsAsync(IMongoCollection<BsonDocument> collection, FilterDefinition<BsonDocument> filter, int limit,
        CancellationToken cancellationToken)
        => (await collection.Find(filter).Project(Builders<BsonDocument>.Projection.Include("_id")).Limit(limit).ToListAsync(cancellationToken))
            .Select(d => d["_id"]).ToList();
}
