using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Agents;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Tests.Persistence;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Tasks;

/// <summary>
/// Elections reuse the registry they read while nothing an election reads has changed, and never miss a change: placements,
/// a heartbeat that differs, a status, a lost consumer, an agent going silent or coming back (SQLite store).
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class AgentRegistryCacheTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly AgentCapacity Free = new(30, 120000, 1_900_000);

    private TempFolder _folder = null!;
    private SqliteStoreSet _stores = null!;
    private OrchestratorOptions _options = null!;
    private AgentRegistryCache _cache = null!;
    private IAgentStore _agents = null!;

    private ManualClock Clock => _stores.Clock;

    [SetUp]
    public void CreateStore()
    {
        _folder = new TempFolder(nameof(AgentRegistryCacheTests));
        _stores = new SqliteStoreSet(_folder.File("store.db"), new ManualClock());
        _options = new OrchestratorOptions();
        _options.Agents.RegistrySnapshotMaxAge = TimeSpan.FromMinutes(10);
        // The store judges silences by the same fleet options as the cache.
        _agents = new SqliteAgentStore(_stores.Database, Clock, Options.Create(_options));
        _cache = new AgentRegistryCache(_agents, Clock, Options.Create(_options));
    }

    [TearDown]
    public void DropStore()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private Task BeatAsync(string agentId, AgentCapacity? free = null, double intervalSeconds = 10)
        => _agents.RecordHeartbeatAsync(new AgentHeartbeat("1.0", agentId, Clock.GetUtcNow(), "host-" + agentId, [ActionNames.VmCreate],
            new AgentCapacity(32, 131072, 2_000_000), free ?? Free, 0, IntervalSeconds: intervalSeconds), Clock.GetUtcNow(), None);

    private async Task<Dictionary<string, AgentRecord>> ElectionViewAsync(Guid? taskId = null)
        => (await _cache.ForElectionAsync(taskId ?? Guid.NewGuid(), None)).Agents.ToDictionary(a => a.AgentId);

    [Test]
    public async Task Elections_reuse_the_registry_while_it_is_unchanged_and_always_count_current_placements()
    {
        await BeatAsync("agent-a");
        await BeatAsync("agent-b");
        await ElectionViewAsync();

        var electing = Guid.NewGuid();
        await _agents.PlaceAsync(new AgentPlacement(Guid.NewGuid(), "agent-a", new AgentCapacity(2, 2048, 10240)), None);
        await _agents.PlaceAsync(new AgentPlacement(electing, "agent-b", new AgentCapacity(4, 4096, 20480)), None);
        Clock.Advance(TimeSpan.FromSeconds(5));
        await BeatAsync("agent-a");
        var view = await ElectionViewAsync(electing);

        Assert.That(_cache.Reads, Is.EqualTo(1), "a placement and a repeated heartbeat do not make an election read the registry again");
        Assert.That((view["agent-a"].InFlight, view["agent-b"].InFlight), Is.EqualTo((new AgentCapacity(2, 2048, 10240), new AgentCapacity(0, 0, 0))),
            "another task's placement counts at once; the electing task's own does not");
    }

    [Test]
    public async Task A_heartbeat_that_differs_a_status_and_a_lost_consumer_are_seen_by_the_next_election()
    {
        await BeatAsync("agent-a");
        await BeatAsync("agent-b");
        await ElectionViewAsync();

        Clock.Advance(TimeSpan.FromSeconds(5));
        await BeatAsync("agent-a", free: new AgentCapacity(1, 1024, 1024));
        var lessFree = await ElectionViewAsync();
        await _agents.SetStatusAsync("agent-b", AgentAdminStatus.Draining, None);
        var drained = await ElectionViewAsync();
        await _agents.SetConsumersLostAsync("agent-a", Clock.GetUtcNow(), None);
        var lost = await ElectionViewAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(lessFree["agent-a"].Free, Is.EqualTo(new AgentCapacity(1, 1024, 1024)));
            Assert.That(drained["agent-b"].Status, Is.EqualTo(AgentAdminStatus.Draining));
            Assert.That(lost["agent-a"].ConsumersLostAt, Is.EqualTo(Clock.GetUtcNow()));
            Assert.That(_cache.Reads, Is.EqualTo(4));
        }
    }

    [Test]
    public async Task The_registry_is_read_again_when_an_agent_would_go_silent_and_when_a_silent_agent_returns()
    {
        var fleet = _options.Agents;
        await BeatAsync("agent-a", intervalSeconds: 10);
        await BeatAsync("agent-b", intervalSeconds: 60);
        await ElectionViewAsync();

        // Two of agent-a's intervals without a heartbeat: the election must not judge it on a record read before.
        Clock.Advance(TimeSpan.FromSeconds(21));
        var silent = await ElectionViewAsync();
        var readsAfterSilence = _cache.Reads;
        Clock.Advance(TimeSpan.FromSeconds(9));
        await BeatAsync("agent-a", intervalSeconds: 10);
        var back = await ElectionViewAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(readsAfterSilence, Is.EqualTo(2), "read again once agent-a's last heartbeat no longer kept it online");
            Assert.That(AgentLiveness.Evaluate(silent["agent-a"], Clock.GetUtcNow().AddSeconds(-9), fleet).Online, Is.False);
            Assert.That(AgentLiveness.Evaluate(back["agent-a"], Clock.GetUtcNow(), fleet).Online, Is.True, "the same heartbeat as before, after a silence");
            Assert.That(_cache.Reads, Is.EqualTo(3));
        }
    }

    [Test]
    public async Task With_no_reuse_allowed_every_election_reads_the_registry()
    {
        _options.Agents.RegistrySnapshotMaxAge = TimeSpan.Zero;
        await BeatAsync("agent-a");

        await ElectionViewAsync();
        await ElectionViewAsync();

        Assert.That(_cache.Reads, Is.EqualTo(2));
    }

    [TestCase(1)]
    [TestCase(2)]
    public async Task An_agent_back_after_a_silence_is_elected_as_a_fresh_read_would(int missedHeartbeats)
    {
        _options.Agents.MissedHeartbeats = missedHeartbeats;
        await BeatAsync("agent-a", intervalSeconds: 10);
        var silence = TimeSpan.FromSeconds(10 * missedHeartbeats + 1);
        Clock.Advance(silence);
        var whileSilent = await ElectAsync();
        Clock.Advance(TimeSpan.FromSeconds(1));
        await BeatAsync("agent-a", intervalSeconds: 10);

        var cached = await ElectAsync();
        var fresh = AgentElection.Elect(await _agents.ListAsync(None), ActionNames.VmCreate, new QuotaAmounts(1, 1024, 1024, 1), null,
            Clock.GetUtcNow(), new ElectionOptions(), _options.Agents);

        Assert.That((whileSilent, cached, fresh.AgentId), Is.EqualTo(((string?)null, "agent-a", "agent-a")));
    }

    private async Task<string?> ElectAsync()
    {
        var (agents, now) = await _cache.ForElectionAsync(Guid.NewGuid(), None);
        return AgentElection.Elect(agents, ActionNames.VmCreate, new QuotaAmounts(1, 1024, 1024, 1), null, now, new ElectionOptions(), _options.Agents).AgentId;
    }
}
