using System.Text.Json;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>The agent registry, inventories and placements in MongoDB; elections are serialized by one guard.</summary>
public sealed class MongoAgentStore : IAgentStore
{
    private readonly MongoStorage _storage;
    private readonly TimeProvider _clock;
    private readonly IMongoCollection<BsonDocument> _agents;
    private readonly IMongoCollection<BsonDocument> _placements;
    private readonly IMongoCollection<BsonDocument> _inventory;

    public MongoAgentStore(MongoStorage storage, TimeProvider clock)
    {
        _storage = storage;
        _clock = clock;
        _agents = storage.Collection("agents");
        _placements = storage.Collection("placements");
        _inventory = storage.Collection("agent_inventory");
    }

    private static BsonValue Capacity(AgentCapacity? capacity) => capacity is null
        ? BsonNull.Value
        : new BsonDocument { ["cpu"] = capacity.Cpu, ["memoryMB"] = capacity.MemoryMB, ["storageMB"] = capacity.StorageMB };

    private static AgentCapacity? Capacity(BsonValue value)
        => value is BsonDocument d ? new AgentCapacity(d["cpu"].ToInt64(), d["memoryMB"].ToInt64(), d["storageMB"].ToInt64()) : null;

    public async Task RecordHeartbeatAsync(AgentHeartbeat heartbeat, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
    {
        var document = new BsonDocument
        {
            ["_id"] = heartbeat.AgentId,
            ["host"] = heartbeat.Host,
            ["version"] = heartbeat.Version,
            ["lastHeartbeatAt"] = receivedAt.UtcDateTime,
            ["capabilities"] = new BsonArray(heartbeat.Capabilities),
            ["capacity"] = Capacity(heartbeat.Capacity),
            ["free"] = Capacity(heartbeat.Free),
            ["vmCount"] = heartbeat.VmCount,
        };
        var f = Builders<BsonDocument>.Filter;
        try
        {
            // Only a newer heartbeat replaces the record; an older one finds no match and its insert collides.
            await _agents.ReplaceOneAsync(f.And(f.Eq("_id", heartbeat.AgentId), f.Lte("lastHeartbeatAt", receivedAt.UtcDateTime)), document,
                new ReplaceOptions { IsUpsert = true }, cancellationToken);
        }
        catch (MongoWriteException ex) when (MongoStorage.IsDuplicate(ex))
        {
        }
    }

    public async Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        using var session = await _storage.Client.StartSessionAsync(cancellationToken: cancellationToken);
        return await ReadAsync(session, Builders<BsonDocument>.Filter.Empty, null, cancellationToken);
    }

    public async Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default)
    {
        using var session = await _storage.Client.StartSessionAsync(cancellationToken: cancellationToken);
        return (await ReadAsync(session, Builders<BsonDocument>.Filter.Eq("_id", agentId), null, cancellationToken)).FirstOrDefault();
    }

    public Task<ElectionDecision> ElectAsync(Guid taskId, Func<IReadOnlyList<AgentRecord>, ElectionDecision> elect, CancellationToken cancellationToken = default)
        => _storage.InTransactionAsync(async (session, token) =>
        {
            await _storage.TakeGuardAsync(session, "election", token);
            var existing = await _placements.Find(session, Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString())).FirstOrDefaultAsync(token);
            if (existing is not null)
                return new ElectionDecision(existing["agentId"].AsString, new QuotaAmounts(existing["cpu"].ToInt64(), existing["memoryMB"].ToInt64(), existing["storageMB"].ToInt64(), 0), []);
            var decision = elect(await ReadAsync(session, Builders<BsonDocument>.Filter.Empty, taskId, token));
            if (decision.AgentId is not null)
            {
                await _placements.InsertOneAsync(session, new BsonDocument
                {
                    ["_id"] = taskId.ToString(),
                    ["agentId"] = decision.AgentId,
                    ["cpu"] = decision.Requirement.Cpu,
                    ["memoryMB"] = decision.Requirement.MemoryMB,
                    ["storageMB"] = decision.Requirement.StorageMB,
                    ["createdAt"] = _clock.GetUtcNow().UtcDateTime,
                }, cancellationToken: token);
            }
            return decision;
        }, cancellationToken);

    public Task ReleasePlacementAsync(Guid taskId, CancellationToken cancellationToken = default)
        => _placements.DeleteOneAsync(Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString()), cancellationToken);

    public Task RecordInventoryAsync(string agentId, JsonElement inventory, DateTimeOffset receivedAt, CancellationToken cancellationToken = default)
        => _inventory.ReplaceOneAsync(Builders<BsonDocument>.Filter.Eq("_id", agentId), new BsonDocument
        {
            ["_id"] = agentId,
            // Kept as text: an inventory is the agent's data, and its keys are not ours to constrain.
            ["inventory"] = inventory.GetRawText(),
            ["receivedAt"] = receivedAt.UtcDateTime,
        }, new ReplaceOptions { IsUpsert = true }, cancellationToken);

    public async Task<(JsonElement Inventory, DateTimeOffset At)?> GetInventoryAsync(string agentId, CancellationToken cancellationToken = default)
    {
        var d = await _inventory.Find(Builders<BsonDocument>.Filter.Eq("_id", agentId)).FirstOrDefaultAsync(cancellationToken);
        return d is null ? null : (JsonDocument.Parse(d["inventory"].AsString).RootElement.Clone(), new DateTimeOffset(d["receivedAt"].ToUniversalTime()));
    }

    private async Task<IReadOnlyList<AgentRecord>> ReadAsync(IClientSessionHandle session, FilterDefinition<BsonDocument> filter, Guid? excludeTask, CancellationToken cancellationToken)
    {
        var agents = await _agents.Find(session, filter).Sort(Builders<BsonDocument>.Sort.Ascending("_id")).ToListAsync(cancellationToken);
        var placements = await _placements.Find(session, excludeTask is { } id ? Builders<BsonDocument>.Filter.Ne("_id", id.ToString()) : Builders<BsonDocument>.Filter.Empty)
            .ToListAsync(cancellationToken);
        var inFlight = placements.GroupBy(p => p["agentId"].AsString).ToDictionary(g => g.Key,
            g => new AgentCapacity(g.Sum(p => p["cpu"].ToInt64()), g.Sum(p => p["memoryMB"].ToInt64()), g.Sum(p => p["storageMB"].ToInt64())));
        return agents.Select(d => new AgentRecord(
            d["_id"].AsString, d["host"].AsString, d["version"].AsString, new DateTimeOffset(d["lastHeartbeatAt"].ToUniversalTime()),
            d["capabilities"].AsBsonArray.Select(c => c.AsString).ToList(), Capacity(d["capacity"]), Capacity(d["free"]), d["vmCount"].ToInt32(),
            inFlight.TryGetValue(d["_id"].AsString, out var held) ? held : new AgentCapacity(0, 0, 0))).ToList();
    }
}
