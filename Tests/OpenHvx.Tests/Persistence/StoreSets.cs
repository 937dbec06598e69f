using Microsoft.Extensions.Options;
using MongoDB.Bson;
using MongoDB.Driver;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.DeadLetters;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Images;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Mongo;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Retention;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tasks.Pipeline;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Orchestrator.Webhooks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>A tenant's ledger summed straight from storage: committed entries, entries still held, and those of them not past their TTL.</summary>
public sealed record LedgerSums(QuotaAmounts Committed, QuotaAmounts Held, QuotaAmounts HeldLive);

/// <summary>
/// The base of every port's contract suite, run once per adapter family (<c>[TestFixture(Sqlite)]</c>, <c>[TestFixture(Mongo)]</c>):
/// a fresh <see cref="StoreSet"/> per test, SQLite always, MongoDB where OPENHVX_TEST_MONGO names a server (ignored otherwise).
/// </summary>
public abstract class StoreContract(string family)
{
    public const string Sqlite = "sqlite";
    public const string Mongo = "mongo";

    protected static readonly CancellationToken None = CancellationToken.None;

    protected StoreSet _stores = null!;
    private TempFolder? _folder;
    private MongoStoreSet? _mongo;

    protected ManualClock Clock => _stores.Clock;

    [SetUp]
    public void CreateStoresForTest()
    {
        var clock = new ManualClock();
        if (family == Sqlite)
        {
            _folder = new TempFolder(GetType().Name);
            _stores = new SqliteStoreSet(_folder.File("store.db"), clock);
        }
        else
            _stores = _mongo = MongoStoreSet.CreateOrIgnore(clock);
    }

    [TearDown]
    public void DropStores()
    {
        _mongo?.Drop();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder?.Dispose();
    }
}

/// <summary>
/// Every storage port of one adapter family on one database, built directly as the orchestrator builds them, with a clock
/// the test moves. The contract suites run against it; each adapter family has one subclass.
/// </summary>
public abstract class StoreSet
{
    protected StoreSet(ManualClock clock) => Clock = clock;

    public ManualClock Clock { get; }

    public abstract IStoreTransactions Transactions { get; }
    public abstract ITaskStore Tasks { get; }
    public abstract ITenantStore Tenants { get; }
    public abstract IQuotaStore Quotas { get; }
    public abstract IAgentStore Agents { get; }
    public abstract IResourceStore Resources { get; }
    public abstract IAgentOutbox Outbox { get; }
    public abstract IImageStore Images { get; }
    public abstract IIdempotencyStore Idempotency { get; }
    public abstract IDeadLetterStore DeadLetters { get; }
    public abstract ITaskEventLog Events { get; }
    public abstract IWebhookStore Webhooks { get; }
    public abstract IRetentionStore Retention { get; }
    public abstract IJobLeases Leases { get; }

    /// <summary>The orchestrator's settings the stores read (default retention: idempotency keys replay 24 hours).</summary>
    public static IOptions<OrchestratorOptions> Options { get; } = Microsoft.Extensions.Options.Options.Create(new OrchestratorOptions());

    /// <summary>The orchestrator these adapters stand for (each <see cref="Reopen"/> is another).</summary>
    public OpenHvx.Orchestrator.Cluster.OrchestratorInstance Instance { get; } = new();

    /// <summary>The quota rules on top of this family's quota store.</summary>
    public QuotaLedger Ledger => _ledger ??= new QuotaLedger(Quotas, Tenants, Transactions, Clock);

    private QuotaLedger? _ledger;

    /// <summary>New adapter instances on the same data, as another process would open them (no shared transaction state).</summary>
    public abstract StoreSet Reopen();

    /// <summary>The tenant's ledger sums, read from the storage itself (not through <see cref="IQuotaStore"/>).</summary>
    public abstract Task<LedgerSums> ReadLedgerSumsAsync(string tenantId, DateTimeOffset now);

    /// <summary>Writes many ledger entries quickly (as history that is already there), without touching the counters.</summary>
    public abstract Task SeedLedgerAsync(IReadOnlyList<QuotaLedgerEntry> entries);

    /// <summary>
    /// Whether a transaction failed only because a concurrent one won (the caller retries the whole work, as MassTransit
    /// retries a message): never on SQLite, whose transactions wait for each other; a write conflict on MongoDB.
    /// </summary>
    public virtual bool IsTransient(Exception exception) => false;
}

public sealed class SqliteStoreSet : StoreSet
{
    public SqliteStoreSet(string path, ManualClock clock) : base(clock)
    {
        Database = new SqliteDatabase(path);
        Tasks = new SqliteTaskStore(Database);
        Tenants = new SqliteTenantStore(Database, clock);
        Quotas = new SqliteQuotaStore(Database);
        Agents = new SqliteAgentStore(Database, clock);
        Resources = new SqliteResourceStore(Database);
        Outbox = new SqliteAgentOutbox(Database, Instance);
        Images = new SqliteImageStore(Database);
        Idempotency = new SqliteIdempotencyStore(Database, clock, Options);
        DeadLetters = new SqliteDeadLetterStore(Database);
        Events = new SqliteTaskEventLog(Database);
        Webhooks = new SqliteWebhookStore(Database);
        Retention = new SqliteRetentionStore(Database, clock);
        Leases = new SqliteJobLeases(Database);
    }

    public SqliteDatabase Database { get; }

    public override IStoreTransactions Transactions => Database;
    public override ITaskStore Tasks { get; }
    public override ITenantStore Tenants { get; }
    public override IQuotaStore Quotas { get; }
    public override IAgentStore Agents { get; }
    public override IResourceStore Resources { get; }
    public override IAgentOutbox Outbox { get; }
    public override IImageStore Images { get; }
    public override IIdempotencyStore Idempotency { get; }
    public override IDeadLetterStore DeadLetters { get; }
    public override ITaskEventLog Events { get; }
    public override IWebhookStore Webhooks { get; }
    public override IRetentionStore Retention { get; }
    public override IJobLeases Leases { get; }

    public override StoreSet Reopen() => new SqliteStoreSet(Database.FilePath, Clock);

    public override async Task<LedgerSums> ReadLedgerSumsAsync(string tenantId, DateTimeOffset now)
    {
        static string Sum(string condition, string column) => $"COALESCE(SUM(CASE WHEN {condition} THEN {column} END), 0)";
        string[] columns = ["cpu", "memory_mb", "storage_mb", "vm_count"];
        string[] conditions = ["status = 'committed'", "status = 'held'", "status = 'held' AND expires_at > $now"];
        await using var connection = await Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT " + string.Join(", ", conditions.SelectMany(c => columns.Select(column => Sum(c, column)))) +
                              " FROM quota_holds WHERE tenant_id = $tenant";
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        QuotaAmounts At(int i) => new(reader.GetInt64(i), reader.GetInt64(i + 1), reader.GetInt64(i + 2), reader.GetInt64(i + 3));
        return new LedgerSums(At(0), At(4), At(8));
    }

    public override Task SeedLedgerAsync(IReadOnlyList<QuotaLedgerEntry> entries)
        => Database.InTransactionAsync(async () =>
        {
            foreach (var entry in entries)
                await Quotas.TryInsertAsync(entry, CancellationToken.None);
            return true;
        }, CancellationToken.None);
}

public sealed class MongoStoreSet : StoreSet
{
    public const string IgnoreReason = "Set OPENHVX_TEST_MONGO (for example mongodb://localhost:27017) to run the MongoDB adapter's contract tests.";

    private readonly string _url;
    private readonly string _database;

    private MongoStoreSet(string url, string database, ManualClock clock) : base(clock)
    {
        _url = url;
        _database = database;
        Storage = new MongoStorage(new MongoUrlBuilder(url) { DatabaseName = database }.ToString());
        Tasks = new MongoTaskStore(Storage);
        Tenants = new MongoTenantStore(Storage, clock);
        Quotas = new MongoQuotaStore(Storage);
        Agents = new MongoAgentStore(Storage, clock);
        Resources = new MongoResourceStore(Storage);
        Outbox = new MongoAgentOutbox(Storage, Instance);
        Images = new MongoImageStore(Storage);
        Idempotency = new MongoIdempotencyStore(Storage, clock, Options);
        DeadLetters = new MongoDeadLetterStore(Storage);
        Events = new MongoTaskEventLog(Storage);
        Webhooks = new MongoWebhookStore(Storage);
        Retention = new MongoRetentionStore(Storage, clock);
        Leases = new MongoJobLeases(Storage);
    }

    /// <summary>A new database on the server that OPENHVX_TEST_MONGO names; the test is ignored (with the reason) where none is named.</summary>
    public static MongoStoreSet CreateOrIgnore(ManualClock clock)
    {
        var url = Environment.GetEnvironmentVariable("OPENHVX_TEST_MONGO");
        if (string.IsNullOrEmpty(url))
            Assert.Ignore(IgnoreReason);
        var set = new MongoStoreSet(url, "openhvx_test_" + Guid.NewGuid().ToString("N")[..10], clock);
        MongoSchema.EnsureAsync(set.Storage, CancellationToken.None).GetAwaiter().GetResult();
        return set;
    }

    public MongoStorage Storage { get; }

    public override IStoreTransactions Transactions => Storage;
    public override ITaskStore Tasks { get; }
    public override ITenantStore Tenants { get; }
    public override IQuotaStore Quotas { get; }
    public override IAgentStore Agents { get; }
    public override IResourceStore Resources { get; }
    public override IAgentOutbox Outbox { get; }
    public override IImageStore Images { get; }
    public override IIdempotencyStore Idempotency { get; }
    public override IDeadLetterStore DeadLetters { get; }
    public override ITaskEventLog Events { get; }
    public override IWebhookStore Webhooks { get; }
    public override IRetentionStore Retention { get; }
    public override IJobLeases Leases { get; }

    public override StoreSet Reopen() => new MongoStoreSet(_url, _database, Clock);

    public void Drop() => Storage.Client.DropDatabase(_database);

    public override bool IsTransient(Exception exception)
        => exception is MongoException mongo && (mongo.HasErrorLabel("TransientTransactionError") || mongo.HasErrorLabel("UnknownTransactionCommitResult"));

    public override async Task<LedgerSums> ReadLedgerSumsAsync(string tenantId, DateTimeOffset now)
    {
        var entries = await Storage.Collection(MongoQuotaStore.LedgerCollection).Find(Builders<BsonDocument>.Filter.Eq("tenantId", tenantId)).ToListAsync();
        QuotaAmounts Sum(Func<BsonDocument, bool> which)
        {
            var chosen = entries.Where(which).ToList();
            return new QuotaAmounts(chosen.Sum(d => d["cpu"].ToInt64()), chosen.Sum(d => d["memoryMB"].ToInt64()),
                chosen.Sum(d => d["storageMB"].ToInt64()), chosen.Sum(d => d["vmCount"].ToInt64()));
        }
        return new LedgerSums(
            Sum(d => d["status"].AsString == QuotaHoldStatuses.Committed),
            Sum(d => d["status"].AsString == QuotaHoldStatuses.Held),
            Sum(d => d["status"].AsString == QuotaHoldStatuses.Held && new DateTimeOffset(d["expiresAt"].ToUniversalTime()) > now));
    }

    public override Task SeedLedgerAsync(IReadOnlyList<QuotaLedgerEntry> entries)
        => Storage.Collection(MongoQuotaStore.LedgerCollection).InsertManyAsync(entries.Select(MongoQuotaStore.ToBson));
}
