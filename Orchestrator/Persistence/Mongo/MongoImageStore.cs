using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Images;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

public sealed class MongoImageStore : IImageStore
{
    private readonly MongoStorage _storage;
    private readonly AmbientCollection _images;

    public MongoImageStore(MongoStorage storage)
    {
        _storage = storage;
        _images = storage.Ambient("images");
    }

    private static Image FromBson(BsonDocument d) => new(d["_id"].AsString, d["name"].AsString, d["version"].AsString, d["file"].AsString,
        d["generation"].ToInt32(), d["minStorageGB"].ToInt32(), d["os"].IsBsonNull ? null : d["os"].AsString, d["isDefault"].ToBoolean(),
        new DateTimeOffset(d["publishedAt"].ToUniversalTime()));

    public async Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default)
        => (await _images.Find(Builders<BsonDocument>.Filter.Empty).Sort(Builders<BsonDocument>.Sort.Ascending("name").Descending("publishedAt"))
            .ToListAsync(cancellationToken)).Select(FromBson).ToList();

    public async Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default)
    {
        var filter = imageId.EndsWith(Image.LatestSuffix, StringComparison.Ordinal)
            ? Builders<BsonDocument>.Filter.Eq("name", imageId[..^Image.LatestSuffix.Length])
            : Builders<BsonDocument>.Filter.Eq("_id", imageId);
        var document = await _images.Find(filter).Sort(Builders<BsonDocument>.Sort.Descending("publishedAt").Descending("version")).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : FromBson(document);
    }

    public async Task<Image?> GetDefaultAsync(CancellationToken cancellationToken = default)
    {
        var document = await _images.Find(Builders<BsonDocument>.Filter.Eq("isDefault", true)).Sort(Builders<BsonDocument>.Sort.Descending("publishedAt"))
            .FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : FromBson(document);
    }

    public async Task<bool> TryAddAsync(Image image, CancellationToken cancellationToken = default)
    {
        var joined = _storage.Session is not null;
        try
        {
            // In the transaction, the insert looks first (a duplicate key would abort the transaction).
            return await _storage.InTransactionAsync(async (session, token) =>
            {
                if (!await _images.TryInsertAsync(ToBson(image), token))
                    return false;
                await ClearOtherDefaultsAsync(image, token);
                return true;
            }, cancellationToken);
        }
        catch (MongoWriteException ex) when (!joined && MongoStorage.IsDuplicate(ex))
        {
            // A concurrent add of the same id: its own transaction, aborted, nothing written.
            return false;
        }
    }

    public Task<bool> ReplaceAsync(Image image, CancellationToken cancellationToken = default)
        => _storage.InTransactionAsync(async (session, token) =>
        {
            var result = await _images.ReplaceOneAsync(Builders<BsonDocument>.Filter.Eq("_id", image.ImageId), ToBson(image),
                new ReplaceOptions { IsUpsert = true }, token);
            await ClearOtherDefaultsAsync(image, token);
            return result.MatchedCount > 0;
        }, cancellationToken);

    public async Task<bool> DeleteAsync(string imageId, CancellationToken cancellationToken = default)
        => (await _images.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", imageId), cancellationToken)).DeletedCount == 1;

    /// <summary>One default at a time: a default image written in the same transaction takes the flag from the others.</summary>
    private Task ClearOtherDefaultsAsync(Image image, CancellationToken cancellationToken)
        => image.IsDefault
            ? _images.UpdateManyAsync(Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("isDefault", true), Builders<BsonDocument>.Filter.Ne("_id", image.ImageId)),
                Builders<BsonDocument>.Update.Set("isDefault", false), cancellationToken)
            : Task.CompletedTask;

    private static BsonDocument ToBson(Image image) => new()
    {
        ["_id"] = image.ImageId,
        ["name"] = image.Name,
        ["version"] = image.Version,
        ["file"] = image.File,
        ["generation"] = image.Generation,
        ["minStorageGB"] = image.MinStorageGB,
        ["os"] = image.Os is null ? BsonNull.Value : image.Os,
        ["isDefault"] = image.IsDefault,
        ["publishedAt"] = image.PublishedAt.UtcDateTime,
    };
}
