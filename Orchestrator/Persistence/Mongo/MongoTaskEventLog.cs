using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Events;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// <c>task_events</c> (<c>{ _id: sequence, taskId, tenantId, action, from, to, status, at, errorCode }</c>). The sequence comes from
/// the counter document <c>counters/task_events</c>, incremented in the transition's transaction: two transactions that append
/// conflict on it, so one waits for (is retried after) the other and sequences commit in order.
/// </summary>
public sealed class MongoTaskEventLog(MongoStorage storage) : ITaskEventLog
{
    public const string Collection = "task_events";
    private const string CounterId = "task_events";

    private static FilterDefinitionBuilder<BsonDocument> Filter => Builders<BsonDocument>.Filter;

    private readonly AmbientCollection _events = storage.Ambient(Collection);
    private readonly IMongoCollection<BsonDocument> _counters = storage.Collection("counters");

    public async Task<long> AppendAsync(TaskStateChanged change, CancellationToken cancellationToken)
    {
        var options = new FindOneAndUpdateOptions<BsonDocument> { IsUpsert = true, ReturnDocument = ReturnDocument.After };
        var filter = Filter.Eq("_id", CounterId);
        var increment = Builders<BsonDocument>.Update.Inc("seq", 1L);
        var counter = storage.Session is { } session
            ? await _counters.FindOneAndUpdateAsync(session, filter, increment, options, cancellationToken)
            : await _counters.FindOneAndUpdateAsync(filter, increment, options, cancellationToken);
        var sequence = counter["seq"].ToInt64();
        await _events.InsertOneAsync(new BsonDocument
        {
            ["_id"] = sequence,
            ["taskId"] = change.TaskId.ToString(),
            ["tenantId"] = change.TenantId,
            ["action"] = change.Action,
            ["from"] = change.From is null ? BsonNull.Value : new BsonString(change.From),
            ["to"] = change.To,
            ["status"] = change.Status,
            ["at"] = change.Timestamp.UtcDateTime,
            ["errorCode"] = change.ErrorCode is null ? BsonNull.Value : new BsonString(change.ErrorCode),
        }, cancellationToken);
        return sequence;
    }

    public async Task<IReadOnlyList<TaskEvent>> ReadAsync(TaskEventQuery query, CancellationToken cancellationToken)
    {
        var filter = Filter.Gt("_id", query.After);
        if (query.TenantId is { } tenantId)
            filter &= Filter.Eq("tenantId", tenantId);
        if (query.TaskId is { } taskId)
            filter &= Filter.Eq("taskId", taskId.ToString());
        var documents = await _events.Find(filter).Sort(Builders<BsonDocument>.Sort.Ascending("_id")).Limit(query.Limit).ToListAsync(cancellationToken);
        return documents.Select(Read).ToList();
    }

    public async Task<long> LastSequenceAsync(CancellationToken cancellationToken)
    {
        var last = await _events.Find(Filter.Empty).Sort(Builders<BsonDocument>.Sort.Descending("_id")).Limit(1).FirstOrDefaultAsync(cancellationToken);
        return last?["_id"].ToInt64() ?? 0;
    }

    private static TaskEvent Read(BsonDocument d) => new(
        d["_id"].ToInt64(), Guid.Parse(d["taskId"].AsString), d["tenantId"].AsString, d["action"].AsString, MongoStorage.String(d, "from"),
        d["to"].AsString, d["status"].AsString, new DateTimeOffset(d["at"].ToUniversalTime()), MongoStorage.String(d, "errorCode"));
}
