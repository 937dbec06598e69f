using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Orchestrator.Webhooks;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// Webhooks (<c>webhooks</c>: <c>{ _id, tenantId, url, events [], secret, createdAt, status, cursor, failures, nextAttemptAt,
/// lastAttemptAt, lastDeliveredAt, lastError, disabledAt, disabledReason }</c>); the secret as given to the tenant, readable only
/// with the database's credentials.
/// </summary>
public sealed class MongoWebhookStore(MongoStorage storage) : IWebhookStore
{
    public const string Collection = "webhooks";

    private static FilterDefinitionBuilder<BsonDocument> Filter => Builders<BsonDocument>.Filter;

    private readonly AmbientCollection _webhooks = storage.Ambient(Collection);

    public Task<bool> TryCreateAsync(Webhook webhook, int maxPerTenant, CancellationToken cancellationToken)
        => storage.InTransactionAsync(async (session, ct) =>
        {
            // Creations for one tenant conflict on its guard, so two cannot both take the last place.
            await storage.TakeGuardAsync(session, "webhooks:" + webhook.TenantId, ct);
            if (await _webhooks.CountDocumentsAsync(Filter.Eq("tenantId", webhook.TenantId), ct) >= maxPerTenant)
                return false;
            var document = new BsonDocument
            {
                ["_id"] = webhook.Id,
                ["tenantId"] = webhook.TenantId,
                ["url"] = webhook.Url,
                ["events"] = new BsonArray(webhook.Events),
                ["secret"] = webhook.Secret,
                ["createdAt"] = webhook.CreatedAt.UtcDateTime,
            };
            document.AddRange(Delivery(webhook.Delivery));
            await _webhooks.InsertOneAsync(document, ct);
            return true;
        }, cancellationToken);

    public async Task<Webhook?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var document = await _webhooks.Find(Filter.Eq("_id", id)).FirstOrDefaultAsync(cancellationToken);
        return document is null ? null : Read(document);
    }

    public async Task<IReadOnlyList<Webhook>> ListAsync(string? tenantId, CancellationToken cancellationToken)
    {
        var filter = tenantId is null ? Filter.Empty : Filter.Eq("tenantId", tenantId);
        var documents = await _webhooks.Find(filter).Sort(Builders<BsonDocument>.Sort.Ascending("createdAt").Ascending("_id")).ToListAsync(cancellationToken);
        return documents.Select(Read).ToList();
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
        => (await _webhooks.DeleteOneAsync(Filter.Eq("_id", id), cancellationToken)).DeletedCount == 1;

    public async Task<IReadOnlyList<Webhook>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        var filter = Filter.Eq("status", Webhook.Active) & (Filter.Eq("nextAttemptAt", BsonNull.Value) | Filter.Lte("nextAttemptAt", now.UtcDateTime));
        var documents = await _webhooks.Find(filter).Sort(Builders<BsonDocument>.Sort.Ascending("nextAttemptAt").Ascending("createdAt").Ascending("_id"))
            .Limit(limit).ToListAsync(cancellationToken);
        return documents.Select(Read).ToList();
    }

    /// <summary>One aggregation: each active webhook's events past its cursor (index tenant_seq of the event log), summed.</summary>
    public async Task<long> CountBacklogAsync(CancellationToken cancellationToken)
    {
        var behind = new BsonDocument("$lookup", new BsonDocument
        {
            ["from"] = MongoTaskEventLog.Collection,
            ["let"] = new BsonDocument { ["tenant"] = "$tenantId", ["cursor"] = "$cursor" },
            ["pipeline"] = new BsonArray
            {
                new BsonDocument("$match", new BsonDocument("$expr", new BsonDocument("$and", new BsonArray
                {
                    new BsonDocument("$eq", new BsonArray { "$tenantId", "$$tenant" }),
                    new BsonDocument("$gt", new BsonArray { "$_id", "$$cursor" }),
                }))),
                new BsonDocument("$count", "n"),
            },
            ["as"] = "behind",
        });
        var total = new BsonDocument("$group", new BsonDocument
        {
            ["_id"] = BsonNull.Value,
            ["total"] = new BsonDocument("$sum", new BsonDocument("$ifNull", new BsonArray { new BsonDocument("$arrayElemAt", new BsonArray { "$behind.n", 0 }), 0 })),
        });
        PipelineDefinition<BsonDocument, BsonDocument> pipeline = new[] { new BsonDocument("$match", new BsonDocument("status", Webhook.Active)), behind, total };
        var result = await _webhooks.Collection.Aggregate(pipeline, cancellationToken: cancellationToken).FirstOrDefaultAsync(cancellationToken);
        return result is null ? 0 : result["total"].ToInt64();
    }

    public async Task<bool> SaveDeliveryAsync(string id, WebhookDelivery expected, WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        var filter = Filter.Eq("_id", id) & Filter.Eq("cursor", expected.Cursor) & Filter.Eq("status", expected.Status);
        var update = Builders<BsonDocument>.Update.Combine(Delivery(delivery).Select(e => Builders<BsonDocument>.Update.Set(e.Name, e.Value)));
        return (await _webhooks.UpdateOneAsync(filter, update, null, cancellationToken)).MatchedCount == 1;
    }

    private static BsonDocument Delivery(WebhookDelivery d) => new()
    {
        ["status"] = d.Status,
        ["cursor"] = d.Cursor,
        ["failures"] = d.Failures,
        ["nextAttemptAt"] = Time(d.NextAttemptAt),
        ["lastAttemptAt"] = Time(d.LastAttemptAt),
        ["lastDeliveredAt"] = Time(d.LastDeliveredAt),
        ["lastError"] = d.LastError is null ? BsonNull.Value : new BsonString(d.LastError),
        ["disabledAt"] = Time(d.DisabledAt),
        ["disabledReason"] = d.DisabledReason is null ? BsonNull.Value : new BsonString(d.DisabledReason),
    };

    private static BsonValue Time(DateTimeOffset? value) => value is { } at ? at.UtcDateTime : BsonNull.Value;

    private static Webhook Read(BsonDocument d)
    {
        DateTimeOffset? Time(string name) => d.TryGetValue(name, out var v) && v.IsValidDateTime ? new DateTimeOffset(v.ToUniversalTime()) : null;
        return new Webhook(
            d["_id"].AsString, d["tenantId"].AsString, d["url"].AsString, d["events"].AsBsonArray.Select(e => e.AsString).ToList(), d["secret"].AsString,
            Time("createdAt")!.Value,
            new WebhookDelivery(d["status"].AsString, d["cursor"].ToInt64(), d["failures"].ToInt32(), Time("nextAttemptAt"), Time("lastAttemptAt"),
                Time("lastDeliveredAt"), MongoStorage.String(d, "lastError"), Time("disabledAt"), MongoStorage.String(d, "disabledReason")));
    }
}
