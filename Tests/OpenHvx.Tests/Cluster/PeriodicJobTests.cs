using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Cluster;
using OpenHvx.Orchestrator.Persistence.Sqlite;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Cluster;

/// <summary>The loop under the orchestrator's background jobs: it goes on past a failed tick, and works only while it holds its lease.</summary>
[TestFixture]
[Category("Integration")]
public sealed class PeriodicJobTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder(nameof(PeriodicJobTests));

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Test]
    public async Task A_failed_tick_is_logged_and_the_next_ticks_run_the_first_of_them_ending_the_outage()
    {
        var log = new LogRecorder();
        var job = new CountingJob(log, failFirst: true);

        await job.StartAsync(default);
        try
        {
            await Eventually.True(() => Task.FromResult(job.Ticks >= 3), because: "the loop goes on after the failed first tick");
        }
        finally
        {
            await job.StopAsync(default);
        }

        Assert.That(log.Lines.Where(l => l.Level >= LogLevel.Warning).Select(l => l.Text),
            Is.EqualTo(new[] { "Counting job failed; retrying at the next interval" }));
        Assert.That(job.Recoveries, Is.EqualTo(new[] { 1 }), "one outage of one failed tick");
    }

    [Test]
    public async Task A_job_with_a_lease_works_only_in_the_orchestrator_holding_it()
    {
        var options = Options.Create(new OrchestratorOptions());
        JobLeaseKeeper Keeper() => new(new SqliteJobLeases(new SqliteDatabase(_folder.File("store.db"))), new OrchestratorInstance(), TimeProvider.System,
            options, NullLogger<JobLeaseKeeper>.Instance);
        var first = new CountingJob(NullLogger.Instance, leases: Keeper());
        var second = new CountingJob(NullLogger.Instance, leases: Keeper());

        Assert.That(await first.RunOnceAsync(default), Is.True);
        Assert.That(await second.RunOnceAsync(default), Is.False, "another orchestrator holds the lease");
        Assert.That((first.Ticks, second.Ticks), Is.EqualTo((1, 0)));
    }

    private sealed class CountingJob(ILogger logger, bool failFirst = false, JobLeaseKeeper? leases = null)
        : PeriodicJob("Counting job", TimeProvider.System, logger, leases, leases is null ? null : ClusterJobs.Retention)
    {
        private int _ticks;

        public int Ticks => _ticks;

        public List<int> Recoveries { get; } = [];

        protected override TimeSpan Interval => TimeSpan.FromMilliseconds(20);

        protected override Task WorkAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _ticks) == 1 && failFirst)
                throw new InvalidOperationException("the first tick fails");
            return Task.CompletedTask;
        }

        protected override void OnRecovered(int failures) => Recoveries.Add(failures);
    }
}
