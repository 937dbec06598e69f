using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Images;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

public sealed class MongoImageStore : IImageStore
{
    private readonly IMongoCollection<BsonDocument> _images;

    public MongoImageStore(MongoStorage storage)
    {
        _images = storage.Collection("images");
    }

    private static Image FromBson(BsonDocument d) => new(d["_id"].AsString, d["name"].AsString, d["version"].AsString, d["file"].AsString,
        d["generation"].ToInt32(), d["minStorageGB"].ToInt32(), d["os"].IsBsonNull ? null : d["os"].AsString, d["isDefault"].ToBoolean(),
        new DateTimeOffset(d["publishedAt"].ToUniversalTime()));

    public async Task<IReadOnlyList<Image>> ListAsync(CancellationToken cancellationToken = default)
        => (await _images.Find(Builders<BsonDocument>.Filter.Empty).Sort(Builders<BsonDocument>.Sort.Ascending("name").Descending("publishedAt"))
            .ToListAsync(cancellationToken)).Select(FromBson).ToList();

    public async Task<Image?> ResolveAsync(string imageId, CancellationToken cancellationToken = default)
    {
        var filter = imageId.EndsWith(SqliteImageStore.LatestSuffix, StringComparison.Ordinal)
            ? Builders<BsonDocument>.Filter.Eq("name", imageId[..^SqliteImageStore.LatestSuffix.Length])
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

    public Task UpsertAsync(Image image, CancellationToken cancellationToken = default)
        => _images.ReplaceOneAsync(Builders<BsonDocument>.Filter.Eq("_id", image.ImageId), new BsonDocument
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
        }, new ReplaceOptions { IsUpsert = true }, cancellationToken);
}
