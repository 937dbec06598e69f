using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Cluster;
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

    private JobLeaseKeeper Keeper()
    {
        var options = Options.Create(new OrchestratorOptions { Leases = new LeaseOptions { Duration = Lease } });
        return new JobLeaseKeeper(new SqliteJobLeases(new SqliteDatabase(_folder.File("store.db"))), new OrchestratorInstance(), _clock, options,
            NullLogger<JobLeaseKeeper>.Instance);
    }

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
}
