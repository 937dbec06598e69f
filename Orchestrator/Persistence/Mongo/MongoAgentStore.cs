using System.Text.Json;
using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Agents;

namespace OpenHvx.Orchestrator.Persistence.Mongo;

/// <summary>
/// The agent registry, inventories and placements in MongoDB (primitives; the rules are <see cref="AgentElection"/>'s). Every
/// call joins the running store transaction; elections in transactions are serialized by one guard.
/// </summary>
public sealed class MongoAgentStore : IAgentStore
{
    private readonly MongoStorage _storage;
    private readonly TimeProvider _clock;
    private readonly AmbientCollection _agents;
    private readonly AmbientCollection _placements;
    private readonly AmbientCollection _inventory;
    // One document, { _id: "version", value }: moves whenever the registry changes in a way an election reads.
    private readonly AmbientCollection _registry;
    private readonly AgentFleetOptions _fleet;

    // findAndModify reports a duplicate key as a command error, not as a write error.
    private const int DuplicateKey = 11000;

    private static readonly AgentCapacity Nothing = new(0, 0, 0);

    public MongoAgentStore(MongoStorage storage, TimeProvider clock, IOptions<OrchestratorOptions>? options = null)
    {
        _storage = storage;
        _clock = clock;
        _agents = storage.Ambient("agents");
        _placements = storage.Ambient("placements");
        _inventory = storage.Ambient("agent_inventory");
        _registry = storage.Ambient("agent_registry");
        _fleet = options?.Value.Agents ?? new AgentFleetOptions();
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
            ["heartbeatTs"] = heartbeat.Ts.UtcDateTime,
            ["heartbeatIntervalMs"] = AgentLiveness.StoredIntervalMs(heartbeat.IntervalSeconds) is { } intervalMs ? (BsonValue)intervalMs : BsonNull.Value,
            ["stoppingAt"] = heartbeat.Status == AgentStatuses.Stopping ? (BsonValue)receivedAt.UtcDateTime : BsonNull.Value,
            ["generation"] = heartbeat.Generation ?? MixedFleet.AgentGenerations.Current,
        };
        // What an admin or the broker check set is not the heartbeat's to replace.
        var update = new BsonDocument("$set", new BsonDocument(document.Where(e => e.Name != "_id")));
        // The agent's settled placements that this heartbeat shows (both times on the agent's clock).
        var shown = Builders<BsonDocument>.Filter.And(Builders<BsonDocument>.Filter.Eq("agentId", heartbeat.AgentId),
            Builders<BsonDocument>.Filter.Lte("settledAfter", heartbeat.Ts.UtcDateTime));
        var f = Builders<BsonDocument>.Filter;
        // Only a newer heartbeat replaces the record: measured later (or the agent's clock went back: a record silent for a minute is replaced anyway).
        var newer = f.And(f.Eq("_id", heartbeat.AgentId), f.Lte("lastHeartbeatAt", receivedAt.UtcDateTime),
            f.Or(f.Not(f.Type("heartbeatTs", BsonType.DateTime)), f.Lte("heartbeatTs", heartbeat.Ts.UtcDateTime), f.Lt("lastHeartbeatAt", receivedAt.AddMinutes(-1).UtcDateTime)));
        // The record as this heartbeat replaced it decides whether an election reads something new; the version moves after the
        // write, so that an election reading the moved version reads the new record too.
        bool recorded;
        AgentRecord? before = null;
        var replacing = new FindOneAndUpdateOptions<BsonDocument, BsonDocument?> { ReturnDocument = ReturnDocument.Before };
        if (_agents.Session is not null)
        {
            // In a transaction a duplicate key would abort it: look first, insert only a new agent.
            if (await _agents.Find(f.Eq("_id", heartbeat.AgentId)).Limit(1).AnyAsync(cancellationToken))
            {
                before = await _agents.FindOneAndUpdateAsync(newer, update, replacing, cancellationToken) is { } replaced ? ToRecord(replaced, Nothing) : null;
                recorded = before is not null;
            }
            else
            {
                await _agents.InsertOneAsync(document, cancellationToken);
                recorded = true;
            }
        }
        else
        {
            try
            {
                replacing.IsUpsert = true;
                // Null: no record matched and this heartbeat's became the agent's first.
                before = await _agents.FindOneAndUpdateAsync(newer, update, replacing, cancellationToken) is { } replaced ? ToRecord(replaced, Nothing) : null;
                recorded = true;
            }
            catch (MongoWriteException ex) when (MongoStorage.IsDuplicate(ex))
            {
                // An older heartbeat finds no match and its upsert collides with the record: nothing to do.
                recorded = false;
            }
            catch (MongoCommandException ex) when (ex.Code == DuplicateKey)
            {
                recorded = false;
            }
        }
        if (recorded && AgentRegistryChanges.ByHeartbeat(before, heartbeat, receivedAt, _fleet))
            await MoveRegistryVersionAsync(cancellationToken);
        // Only a heartbeat that became the record shows what it measured.
        if (recorded)
            await _placements.DeleteManyAsync(shown, cancellationToken);
    }

    public async Task<bool> SetStatusAsync(string agentId, string status, CancellationToken cancellationToken = default)
    {
        var found = (await _agents.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", agentId), Builders<BsonDocument>.Update.Set("status", status), null, cancellationToken))
            .MatchedCount == 1;
        if (found)
            await MoveRegistryVersionAsync(cancellationToken);
        return found;
    }

    public async Task SetConsumersLostAsync(string agentId, DateTimeOffset? lostAt, CancellationToken cancellationToken = default)
    {
        var result = await _agents.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", agentId),
            Builders<BsonDocument>.Update.Set("consumersLostAt", lostAt is { } at ? (BsonValue)at.UtcDateTime : BsonNull.Value), null, cancellationToken);
        if (result.MatchedCount == 1)
            await MoveRegistryVersionAsync(cancellationToken);
    }

    public async Task<long> RegistryVersionAsync(CancellationToken cancellationToken = default)
        => await _registry.Find(Builders<BsonDocument>.Filter.Eq("_id", "version")).FirstOrDefaultAsync(cancellationToken) is { } d ? d["value"].ToInt64() : 0;

    private async Task MoveRegistryVersionAsync(CancellationToken cancellationToken)
    {
        var filter = Builders<BsonDocument>.Filter.Eq("_id", "version");
        var move = Builders<BsonDocument>.Update.Inc("value", 1L);
        try
        {
            await _registry.UpdateOneAsync(filter, move, new UpdateOptions { IsUpsert = true }, cancellationToken);
        }
        catch (MongoWriteException ex) when (_registry.Session is null && MongoStorage.IsDuplicate(ex))
        {
            // Two first moves at once: the other inserted it.
            await _registry.UpdateOneAsync(filter, move, null, cancellationToken);
        }
    }

    public Task SettlePlacementAsync(Guid taskId, DateTimeOffset finishedAt, CancellationToken cancellationToken = default)
        => _placements.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString()),
            Builders<BsonDocument>.Update.Set("settledAfter", finishedAt.UtcDateTime), null, cancellationToken);

    public Task<IReadOnlyList<AgentRecord>> ListAsync(CancellationToken cancellationToken = default)
        => ReadAsync(Builders<BsonDocument>.Filter.Empty, cancellationToken);

    public async Task<AgentRecord?> GetAsync(string agentId, CancellationToken cancellationToken = default)
        => (await ReadAsync(Builders<BsonDocument>.Filter.Eq("_id", agentId), cancellationToken)).FirstOrDefault();

    public async Task<AgentPlacement?> GetPlacementAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        var d = await _placements.Find(Builders<BsonDocument>.Filter.Eq("_id", taskId.ToString())).FirstOrDefaultAsync(cancellationToken);
        return d is null ? null : new AgentPlacement(taskId, d["agentId"].AsString, new AgentCapacity(d["cpu"].ToInt64(), d["memoryMB"].ToInt64(), d["storageMB"].ToInt64()));
    }

    /// <summary>
    /// Inside a transaction, takes the "election" guard first: concurrent elections then conflict and all but one are
    /// retried, so two of them cannot both count the same free capacity.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, AgentCapacity>> InFlightAsync(Guid taskId, CancellationToken cancellationToken = default)
    {
        if (_storage.Session is { } session)
            await _storage.TakeGuardAsync(session, "election", cancellationToken);
        return await InFlightExceptAsync(Builders<BsonDocument>.Filter.Ne("_id", taskId.ToString()), cancellationToken);
    }

    private async Task<Dictionary<string, AgentCapacity>> InFlightExceptAsync(FilterDefinition<BsonDocument> placements, CancellationToken cancellationToken)
        => (await _placements.Find(placements).ToListAsync(cancellationToken)).GroupBy(p => p["agentId"].AsString).ToDictionary(g => g.Key,
            g => new AgentCapacity(g.Sum(p => p["cpu"].ToInt64()), g.Sum(p => p["memoryMB"].ToInt64()), g.Sum(p => p["storageMB"].ToInt64())));

    public Task PlaceAsync(AgentPlacement placement, CancellationToken cancellationToken = default)
        => _placements.UpdateOneAsync(Builders<BsonDocument>.Filter.Eq("_id", placement.TaskId.ToString()), Builders<BsonDocument>.Update
                .Set("agentId", placement.AgentId)
                .Set("cpu", placement.Requirement.Cpu).Set("memoryMB", placement.Requirement.MemoryMB).Set("storageMB", placement.Requirement.StorageMB)
                .Set("settledAfter", BsonNull.Value)
                .SetOnInsert("createdAt", _clock.GetUtcNow().UtcDateTime),
            new UpdateOptions { IsUpsert = true }, cancellationToken);

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

    private async Task<IReadOnlyList<AgentRecord>> ReadAsync(FilterDefinition<BsonDocument> filter, CancellationToken cancellationToken)
    {
        var agents = await _agents.Find(filter).Sort(Builders<BsonDocument>.Sort.Ascending("_id")).ToListAsync(cancellationToken);
        var inFlight = await InFlightExceptAsync(Builders<BsonDocument>.Filter.Empty, cancellationToken);
        return agents.Select(d => ToRecord(d, inFlight.GetValueOrDefault(d["_id"].AsString, Nothing))).ToList();
    }

    private static AgentRecord ToRecord(BsonDocument d, AgentCapacity inFlight) => new(
        d["_id"].AsString, d["host"].AsString, d["version"].AsString, new DateTimeOffset(d["lastHeartbeatAt"].ToUniversalTime()),
        d["capabilities"].AsBsonArray.Select(c => c.AsString).ToList(), Capacity(d["capacity"]), Capacity(d["free"]), d["vmCount"].ToInt32(),
        inFlight,
        d.GetValue("status", AgentAdminStatus.Active).AsString,
        d.GetValue("heartbeatIntervalMs", BsonNull.Value) is { IsBsonNull: false } interval ? TimeSpan.FromMilliseconds(interval.ToInt64()) : null,
        Time(d.GetValue("stoppingAt", BsonNull.Value)),
        Time(d.GetValue("consumersLostAt", BsonNull.Value)),
        d.GetValue("generation", MixedFleet.AgentGenerations.Current).AsString);

    private static DateTimeOffset? Time(BsonValue value) => value.IsBsonNull ? null : new DateTimeOffset(value.ToUniversalTime());
}
