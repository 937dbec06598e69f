using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="Orchestrator.Persistence.IJobLeases"/>: one holder at a time, taken over once it lapses.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class JobLeaseContractTests(string family) : StoreContract(family)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);

    [Test]
    public async Task One_holder_at_a_time_and_the_holder_renews()
    {
        var now = DateTimeOffset.UtcNow;

        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "a", now, Lease, None), Is.True, "free: taken");
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "b", now.AddSeconds(5), Lease, None), Is.False, "held by a");
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "a", now.AddSeconds(10), Lease, None), Is.True, "renewed by its holder");
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "b", now.AddSeconds(20), Lease, None), Is.False, "the renewal holds until 25 s");
        Assert.That(await _stores.Leases.TryAcquireAsync("other-job", "b", now, Lease, None), Is.True, "each job has its own lease");
    }

    [Test]
    public async Task A_lapsed_lease_is_taken_over_and_its_old_holder_cannot_renew_it()
    {
        var now = DateTimeOffset.UtcNow;
        await _stores.Leases.TryAcquireAsync("sweep", "a", now, Lease, None);

        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "b", now + Lease, Lease, None), Is.True, "lapsed: taken over");
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "a", now + Lease + TimeSpan.FromSeconds(1), Lease, None), Is.False,
            "the old holder, back from a pause, finds it taken");
    }

    [Test]
    public async Task A_released_lease_is_free_at_once_but_only_its_holder_releases_it()
    {
        var now = DateTimeOffset.UtcNow;
        await _stores.Leases.TryAcquireAsync("sweep", "a", now, Lease, None);

        await _stores.Leases.ReleaseAsync("sweep", "b", None);
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "b", now, Lease, None), Is.False, "b could not release a's lease");
        await _stores.Leases.ReleaseAsync("sweep", "a", None);
        Assert.That(await _stores.Leases.TryAcquireAsync("sweep", "b", now, Lease, None), Is.True);
    }

    [Test]
    public async Task Listing_by_prefix_gives_the_unlapsed_leases_only()
    {
        var now = DateTimeOffset.UtcNow;
        await _stores.Leases.TryAcquireAsync("instance:a", "a", now, Lease, None);
        await _stores.Leases.TryAcquireAsync("instance:b", "b", now - Lease - Lease, Lease, None);
        await _stores.Leases.TryAcquireAsync("instance_x", "x", now, Lease, None);
        await _stores.Leases.TryAcquireAsync("sweep", "a", now, Lease, None);

        var live = await _stores.Reopen().Leases.ListAsync("instance:", now, None);

        Assert.That(live.Select(l => (l.Job, l.Holder)), Is.EqualTo(new[] { ("instance:a", "a") }), "b's lapsed; instance_x and sweep have other names");
        Assert.That(live[0].ExpiresAt, Is.EqualTo(now + Lease).Within(TimeSpan.FromMilliseconds(1)));
    }
}
