using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Serializers;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Mongo;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Tests.Persistence;

/// <summary>The MongoDB adapter's BSON mapping and query translation, checked without a server.</summary>
[TestFixture]
[Category("Unit")]
public sealed class MongoMappingTests
{
    private static string Render(FilterDefinition<BsonDocument> filter)
        => filter.Render(new RenderArgs<BsonDocument>(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry)).ToJson();

    private static TaskState SampleTask() => new()
    {
        CorrelationId = Guid.NewGuid(),
        CurrentState = "AwaitingResult",
        TenantId = "t1",
        Action = ActionNames.VmCreate,
        Status = TaskStatuses.Running,
        AgentId = "agent-1",
        Data = JsonSerializer.SerializeToElement(new { name = "web1", cpu = 2, big = 9_000_000_000L, ratio = 0.5, cloudInit = new { runcmd = new[] { "echo hi" } } }),
        QuotaDeltas = new QuotaAmounts(2, 2048, 10240, 1),
        Placement = new ElectionDecision("agent-1", new QuotaAmounts(2, 2048, 10240, 1), [new ElectionCandidate("agent-1", true, 0.9, null, 60, 60000, 900000, 1.5)]),
        Timeline = [new TimelineEntry("Validating", "pending", DateTimeOffset.UtcNow)],
        Error = new TaskError("ERR_X", "boom", JsonSerializer.SerializeToElement(new { limit = 4 })),
        CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        UpdatedAt = DateTimeOffset.UtcNow,
        DeadlineAt = DateTimeOffset.UtcNow.AddMinutes(28),
        ResponseAddress = new Uri("rabbitmq://localhost/bus_abc?temporary=true"),
    };

    [Test]
    public void A_task_round_trips_through_bson_unchanged()
    {
        var task = SampleTask();
        task.Version = 7;

        var back = TaskDocumentMapping.FromBson(TaskDocumentMapping.ToBson(task));

        Assert.That(JsonSerializer.Serialize(back, SqliteTaskStore.Json), Is.EqualTo(JsonSerializer.Serialize(task, SqliteTaskStore.Json)));
        Assert.That(back.Data.GetProperty("big").GetInt64(), Is.EqualTo(9_000_000_000L));
    }

    [Test]
    public void Version_zero_and_null_fields_are_written_not_dropped()
    {
        var task = SampleTask();
        task.Version = 0;
        task.AgentId = null;
        task.DeadlineAt = null;

        var bson = TaskDocumentMapping.ToBson(task);

        Assert.That(bson.Contains("version") && bson["version"].AsInt32 == 0, Is.True, bson.ToJson());
        Assert.That(bson["agentId"].IsBsonNull && bson["deadlineAt"].IsBsonNull, Is.True);
        Assert.That(bson["_id"].AsString, Is.EqualTo(task.CorrelationId.ToString()));
    }

    [Test]
    public void An_update_matches_on_id_and_the_version_it_loaded()
    {
        var id = Guid.NewGuid();
        Assert.That(Render(TaskDocumentMapping.ByIdAndVersion(id, 3)), Is.EqualTo($$"""{ "_id" : "{{id}}", "version" : 3 }"""));
    }

    [Test]
    public void Queries_translate_to_the_indexed_fields()
    {
        var before = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        var rendered = Render(TaskDocumentMapping.Query(new TaskQuery { TenantId = "t1", State = "Failed", CreatedBefore = before }));
        Assert.That(rendered, Is.EqualTo("""{ "tenantId" : "t1", "state" : "Failed", "createdAt" : { "$lte" : { "$date" : "2026-11-25T12:00:00Z" } } }"""));
        Assert.That(Render(TaskDocumentMapping.Query(new TaskQuery())), Is.EqualTo("{ }"));
        Assert.That(Render(TaskDocumentMapping.Expired(before)), Does.Contain("\"deadlineAt\" : { \"$ne\" : null, \"$lte\""));
    }

    [Test]
    public void Vm_names_are_unique_per_tenant_without_case()
    {
        Assert.That(MongoResourceStore.NameId("t1", "Web1"), Is.EqualTo(MongoResourceStore.NameId("t1", "web1")));
        Assert.That(MongoResourceStore.NameId("t1", "web1"), Is.Not.EqualTo(MongoResourceStore.NameId("t2", "web1")));
    }

    [TestCase("mongodb://db.example:27017/openhvx?replicaSet=rs0", typeof(MongoTaskStore), typeof(MongoQuotaStore))]
    [TestCase("/var/lib/openhvx/openhvx.db", typeof(OpenHvx.Orchestrator.Persistence.Sqlite.SqliteTaskStore), typeof(OpenHvx.Orchestrator.Persistence.Sqlite.SqliteQuotaStore))]
    public void OPENHVX_DB_selects_the_storage_adapter(string database, Type taskStore, Type quotaStore)
    {
        using var folder = new OpenHvx.Tests.Support.TempFolder("select");
        var value = database.StartsWith("mongodb", StringComparison.Ordinal) ? database : folder.File("openhvx.db");
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["OPENHVX_DB"] = value }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddOrchestrator(configuration);
        using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<ITaskStore>(), Is.InstanceOf(taskStore));
        Assert.That(provider.GetRequiredService<OpenHvx.Orchestrator.Quotas.IQuotaStore>(), Is.InstanceOf(quotaStore));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Test]
    public void Lapsed_holds_are_held_entries_past_their_ttl()
    {
        var now = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        Assert.That(Render(MongoQuotaStore.Lapsed("t1", now)), Is.EqualTo(
            """{ "tenantId" : "t1", "status" : "held", "expiresAt" : { "$lte" : { "$date" : "2026-11-25T12:00:00Z" } } }"""));
    }

    [Test]
    public void Compaction_limits_its_batch_only_after_looking_up_whether_each_row_s_task_has_ended()
    {
        var stages = MongoRetentionStore.Compactable(DateTimeOffset.UnixEpoch, 500)
            .Render(new RenderArgs<BsonDocument>(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry)).Documents;

        Assert.That(stages.Select(s => s.GetElement(0).Name), Is.EqualTo(new[] { "$match", "$lookup", "$lookup", "$match", "$limit", "$project" }));
        Assert.That(stages.Skip(1).Take(2).Select(s => s["$lookup"]["from"].AsString),
            Is.EqualTo(new[] { TaskDocumentMapping.Collection, MongoRetentionStore.ArchiveCollection }));
        Assert.That(stages[1]["$lookup"]["foreignField"].AsString, Is.EqualTo("_id"), "each task found by its id");
    }

    [Test]
    public void Every_query_has_an_index()
    {
        var indexes = TaskDocumentMapping.Indexes()
            .Select(i => i.Keys.Render(new RenderArgs<BsonDocument>(BsonDocumentSerializer.Instance, BsonSerializer.SerializerRegistry)).Names.First())
            .ToList();
        Assert.That(indexes, Is.SupersetOf(new[] { "tenantId", "createdAt", "deadlineAt" }));
    }
}
