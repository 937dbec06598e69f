using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Cluster;

/// <summary>Two orchestrators' keepers on one SQLite file: one runs a job at a time, and the other takes it when the first stops or dies.</summary>
[TestFixture]
[Category("Integration")]
public sealed class JobLeaseKeeperTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private TempFolder _folder = null!;
    private ManualClock _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = new TempFolder(nameof(JobLeaseKeeperTests));
        _clock = new ManualClock();
    }

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    private JobLeaseKeeper Keeper(ManualClock? clock = null, IJobLeases? leases = null)
    {
        var options = Options.Create(new OrchestratorOptions { Leases = new LeaseOptions { Duration = Lease } });
        return new JobLeaseKeeper(leases ?? Leases(), new OrchestratorInstance(), clock ?? _clock, options, NullLogger<JobLeaseKeeper>.Instance);
    }

    private SqliteJobLeases Leases() => new(new SqliteDatabase(_folder.File("store.db")));

    [Test]
    public async Task One_keeper_runs_a_job_and_the_other_takes_it_only_once_the_first_has_died_and_its_lease_lapsed()
    {
        var first = Keeper();
        var second = Keeper();

        Assert.That(await first.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True);
        Assert.That(await second.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.False);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await first.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True, "renewed past half of the lease");
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await second.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.False, "the renewal holds");

        // The first dies (no renewal, nothing released): the second takes the job once the lease has lapsed.
        _clock.Advance(Lease);
        Assert.That(await second.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True);
        Assert.That(await first.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.False, "back from a pause, the first finds it taken");
    }

    [Test]
    public async Task A_stopping_keeper_gives_its_jobs_up_at_once()
    {
        var first = Keeper();
        var second = Keeper();
        Assert.That(await first.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.True);
        Assert.That(await second.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.False);

        await first.StopAsync(default);
        _clock.Advance(Lease / 4);

        Assert.That(await second.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.True, "no wait for the lease to lapse");
    }

    [Test]
    public async Task Each_live_keeper_is_listed_among_the_live_instances_until_its_instance_lease_lapses()
    {
        var first = Keeper();
        var second = Keeper();
        await first.StartAsync(default);
        await second.StartAsync(default);
        try
        {
            await Eventually.True(async () => (await first.LiveInstancesAsync(default)).Contains(second.InstanceId), because: "the second's instance lease is taken");
            await second.StopAsync(default);
            Assert.That(await first.LiveInstancesAsync(default), Is.EquivalentTo(new[] { first.InstanceId }), "a stopped orchestrator is not alive");
        }
        finally
        {
            await first.StopAsync(default);
        }
    }

    [Test]
    public async Task A_wall_clock_set_back_does_not_extend_the_lease_its_keeper_believes_it_holds()
    {
        // Two machines: the first's wall clock is set back an hour while it holds the job; the second's keeps the right time.
        var firstClock = new ManualClock();
        var first = Keeper(firstClock);
        var second = Keeper();
        Assert.That(await first.HoldsAsync(ClusterJobs.Retention, default), Is.True);

        firstClock.StepWallClock(-TimeSpan.FromHours(1));
        // The first pauses past its lease (no renewal); the second takes the lapsed lease.
        firstClock.Advance(Lease + TimeSpan.FromSeconds(1));
        _clock.Advance(Lease + TimeSpan.FromSeconds(1));
        Assert.That(await second.HoldsAsync(ClusterJobs.Retention, default), Is.True, "the lease lapsed in the store");

        Assert.That(await first.HoldsAsync(ClusterJobs.Retention, default), Is.False,
            "back from its pause, the first asks the store (its lease's time has passed on its monotonic clock) and finds the job taken");
    }

    [Test]
    public async Task A_keeper_asks_the_store_again_once_half_of_the_lease_has_passed_on_the_monotonic_clock_whatever_the_wall_clock_says()
    {
        var store = new CountingLeases(Leases());
        var keeper = Keeper(leases: store);
        Assert.That(await keeper.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True);
        Assert.That(store.Acquisitions, Is.EqualTo(1));

        _clock.StepWallClock(-TimeSpan.FromHours(1));
        _clock.Advance(Lease / 4);
        Assert.That(await keeper.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True);
        Assert.That(store.Acquisitions, Is.EqualTo(1), "before half-life: no write");

        _clock.Advance(Lease / 4 + TimeSpan.FromSeconds(1));
        Assert.That(await keeper.HoldsAsync(ClusterJobs.DeadlineSweep, default), Is.True);
        Assert.That(store.Acquisitions, Is.EqualTo(2), "past half-life on the monotonic clock: renewed in the store");
    }

    [Test]
    public async Task A_wall_clock_set_back_does_not_delay_asking_again_for_a_job_another_held()
    {
        var holderClock = new ManualClock();
        var holder = Keeper(holderClock);
        var waiter = Keeper();
        Assert.That(await holder.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.True);
        Assert.That(await waiter.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.False);

        _clock.StepWallClock(-TimeSpan.FromHours(1));
        await holder.StopAsync(default);
        _clock.Advance(Lease / 4 + TimeSpan.FromSeconds(1));

        Assert.That(await waiter.HoldsAsync(ClusterJobs.WebhookDispatch, default), Is.True,
            "the refusal waits a quarter of the lease on the monotonic clock, not on the wall clock");
    }

    private sealed class CountingLeases(IJobLeases inner) : IJobLeases
    {
        private int _acquisitions;

        public int Acquisitions => _acquisitions;

        public Task<bool> TryAcquireAsync(string job, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _acquisitions);
            return inner.TryAcquireAsync(job, holder, now, duration, cancellationToken);
        }

        public Task ReleaseAsync(string job, string holder, CancellationToken cancellationToken) => inner.ReleaseAsync(job, holder, cancellationToken);

        public Task<IReadOnlyList<JobLease>> ListAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.ListAsync(prefix, now, cancellationToken);
    }
}
