using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.DeadLetters;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Dead letters (<c>dead_letters</c>: <c>{ _id, queue, taskId, routingKey, contentType, body (binary), senderUser, reason,
/// exceptionType, receivedAt, replayedAt }</c>).
/// </summary>
public sealed class MongoDeadLetterStore(MongoStorage storage) : IDeadLetterStore
{
    public const string Collection = "dead_letters";

    private static FilterDefinitionBuilder<BsonDocument> Filter => Builders<BsonDocument>.Filter;

    private readonly AmbientCollection _letters = storage.Ambient(Collection);

    public Task<bool> TryAddAsync(DeadLetter letter, CancellationToken cancellationToken)
        => _letters.TryInsertAsync(new BsonDocument
        {
            ["_id"] = letter.Id.ToString(),
            ["queue"] = letter.Queue,
            ["taskId"] = Text(letter.TaskId?.ToString()),
            ["routingKey"] = Text(letter.RoutingKey),
            ["contentType"] = Text(letter.ContentType),
            ["body"] = new BsonBinaryData(letter.Body),
            ["senderUser"] = Text(letter.SenderUser),
            ["reason"] = Text(letter.Reason),
            ["exceptionType"] = Text(letter.ExceptionType),
            ["receivedAt"] = letter.ReceivedAt.UtcDateTime,
            ["replayedAt"] = letter.ReplayedAt is { } replayed ? replayed.UtcDateTime : BsonNull.Value,
        }, cancellationToken);

    public async Task<DeadLetter?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var document = await _letters.Find(Filter.Eq("_id", id.ToString())).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : Read(document);
    }

    public async Task<IReadOnlyList<DeadLetter>> ListAsync(Guid? taskId, int limit, int offset, CancellationToken cancellationToken)
    {
        var filter = taskId is { } id ? Filter.Eq("taskId", id.ToString()) : Filter.Empty;
        var documents = await _letters.Find(filter).Sort(Builders<BsonDocument>.Sort.Descending("receivedAt").Ascending("_id"))
            .Skip(offset).Limit(limit).ToListAsync(cancellationToken);
        return documents.Select(Read).ToList();
    }

    public Task<long> CountAsync(CancellationToken cancellationToken) => _letters.CountDocumentsAsync(Filter.Empty, cancellationToken);

    public async Task<bool> MarkReplayedAsync(Guid id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var result = await _letters.UpdateOneAsync(Filter.And(Filter.Eq("_id", id.ToString()), Filter.Eq("replayedAt", BsonNull.Value)),
            Builders<BsonDocument>.Update.Set("replayedAt", at.UtcDateTime), null, cancellationToken);
        return result.ModifiedCount == 1;
    }

    public Task UnmarkReplayedAsync(Guid id, CancellationToken cancellationToken)
        => _letters.UpdateOneAsync(Filter.Eq("_id", id.ToString()), Builders<BsonDocument>.Update.Set("replayedAt", BsonNull.Value), null, cancellationToken);

    private static BsonValue Text(string? value) => value is null ? BsonNull.Value : new BsonString(value);

    private static DeadLetter Read(BsonDocument d)
    {
        DateTimeOffset? Time(string name) => d.TryGetValue(name, out var v) && v.IsValidDateTime ? new DateTimeOffset(v.ToUniversalTime()) : null;
        var taskId = MongoStorage.String(d, "taskId");
        return new DeadLetter(
            Guid.Parse(d["_id"].AsString), d["queue"].AsString, taskId is null ? null : Guid.Parse(taskId), MongoStorage.String(d, "routingKey"),
            MongoStorage.String(d, "contentType"), d["body"].AsBsonBinaryData.Bytes, MongoStorage.String(d, "senderUser"), MongoStorage.String(d, "reason"),
            MongoStorage.String(d, "exceptionType"), Time("receivedAt")!.Value, Time("replayedAt"));
    }
}
