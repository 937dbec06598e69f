using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IQuotaStore"/>'s primitives (the rules on top of them: <see cref="QuotaLedgerContract"/>).</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class QuotaStoreContractTests(string family) : StoreContract(family)
{
    private QuotaLedgerEntry Entry(string key, string tenant, string status, DateTimeOffset expiresAt, QuotaAmounts? amounts = null)
        => new(key, tenant, "agent-1", amounts ?? new QuotaAmounts(1, 1024, 2048, 1), status, Clock.GetUtcNow().AddMinutes(-30), expiresAt);

    [Test]
    public async Task An_entry_round_trips_and_a_second_insert_of_its_key_is_refused_and_changes_nothing()
    {
        var now = Clock.GetUtcNow();
        var held = new QuotaLedgerEntry("task-1", "acme", "agent-7", new QuotaAmounts(2, 2048, 10240, 1), QuotaHoldStatuses.Held, now, now.AddMinutes(5));
        var adjustment = new QuotaLedgerEntry("adjust-1", "acme", null, new QuotaAmounts(-1, -512, 0, -1), QuotaHoldStatuses.Committed, now, now,
            OverLimit: true, HoldLapsed: true);

        Assert.That(await _stores.Quotas.TryInsertAsync(held, None), Is.True);
        Assert.That(await _stores.Quotas.TryInsertAsync(adjustment, None), Is.True);
        Assert.That(await _stores.Quotas.TryInsertAsync(held with { Amounts = new QuotaAmounts(9, 9, 9, 9), Status = QuotaHoldStatuses.Committed }, None), Is.False);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Quotas.GetEntryAsync("task-1", None), Is.EqualTo(held));
            Assert.That(await _stores.Quotas.GetEntryAsync("adjust-1", None), Is.EqualTo(adjustment));
            Assert.That(await _stores.Quotas.GetEntryAsync("task-2", None), Is.Null);
        }
    }

    [Test]
    public async Task Settle_changes_an_entry_only_while_its_status_is_the_expected_one()
    {
        var entry = Entry("task-1", "acme", QuotaHoldStatuses.Held, Clock.GetUtcNow().AddMinutes(5));
        await _stores.Quotas.TryInsertAsync(entry, None);
        var charged = new QuotaAmounts(4, 4096, 20480, 1);

        Assert.That(await _stores.Quotas.TrySettleAsync("task-1", QuotaHoldStatuses.Committed, QuotaHoldStatuses.Released, QuotaAmounts.Zero, false, false,
            Clock.GetUtcNow(), None), Is.False, "the status differs");
        Assert.That(await _stores.Quotas.GetEntryAsync("task-1", None), Is.EqualTo(entry), "unchanged by the refused settle");

        Assert.That(await _stores.Quotas.TrySettleAsync("task-1", QuotaHoldStatuses.Held, QuotaHoldStatuses.Committed, charged, true, true,
            Clock.GetUtcNow(), None), Is.True);
        var settled = await _stores.Quotas.GetEntryAsync("task-1", None);
        Assert.That(settled, Is.EqualTo(entry with { Status = QuotaHoldStatuses.Committed, Amounts = charged, OverLimit = true, HoldLapsed = true }));

        Assert.That(await _stores.Quotas.TrySettleAsync("task-1", QuotaHoldStatuses.Held, QuotaHoldStatuses.Released, QuotaAmounts.Zero, false, false,
            Clock.GetUtcNow(), None), Is.False, "settled once: it is no longer held");
        Assert.That(await _stores.Quotas.GetEntryAsync("task-1", None), Is.EqualTo(settled));
        Assert.That(await _stores.Quotas.TrySettleAsync("unknown", QuotaHoldStatuses.Held, QuotaHoldStatuses.Released, QuotaAmounts.Zero, false, false,
            Clock.GetUtcNow(), None), Is.False, "no such entry");
    }

    [Test]
    public async Task Settle_can_clear_the_flags_it_stores()
    {
        var entry = Entry("task-1", "acme", QuotaHoldStatuses.Expired, Clock.GetUtcNow()) with { OverLimit = true, HoldLapsed = true };
        await _stores.Quotas.TryInsertAsync(entry, None);

        Assert.That(await _stores.Quotas.TrySettleAsync("task-1", QuotaHoldStatuses.Expired, QuotaHoldStatuses.Committed, entry.Amounts, false, false,
            Clock.GetUtcNow(), None), Is.True);

        var settled = (await _stores.Quotas.GetEntryAsync("task-1", None))!;
        Assert.That((settled.Status, settled.OverLimit, settled.HoldLapsed), Is.EqualTo((QuotaHoldStatuses.Committed, false, false)));
    }

    [Test]
    public async Task Find_lapsed_returns_only_held_entries_past_their_ttl_oldest_first_per_tenant_or_all_with_a_limit()
    {
        var now = Clock.GetUtcNow();
        var entries = new[]
        {
            Entry("a-late", "acme", QuotaHoldStatuses.Held, now.AddMinutes(-1)),
            Entry("a-early", "acme", QuotaHoldStatuses.Held, now.AddMinutes(-3)),
            Entry("a-now", "acme", QuotaHoldStatuses.Held, now),
            Entry("a-live", "acme", QuotaHoldStatuses.Held, now.AddMilliseconds(1)),
            Entry("a-committed", "acme", QuotaHoldStatuses.Committed, now.AddMinutes(-5)),
            Entry("a-released", "acme", QuotaHoldStatuses.Released, now.AddMinutes(-5)),
            Entry("a-expired", "acme", QuotaHoldStatuses.Expired, now.AddMinutes(-5)),
            Entry("b-held", "acme-2", QuotaHoldStatuses.Held, now.AddMinutes(-2)),
        };
        foreach (var entry in entries)
            await _stores.Quotas.TryInsertAsync(entry, None);

        async Task<string[]> Keys(string? tenant, int limit) => (await _stores.Quotas.FindLapsedAsync(tenant, now, limit, None)).Select(e => e.Key).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Keys("acme", 10), Is.EqualTo(new[] { "a-early", "a-late", "a-now" }), "a TTL that ends now has passed");
            Assert.That(await Keys("acme-2", 10), Is.EqualTo(new[] { "b-held" }));
            Assert.That(await Keys(null, 10), Is.EqualTo(new[] { "a-early", "b-held", "a-late", "a-now" }));
            Assert.That(await Keys(null, 2), Is.EqualTo(new[] { "a-early", "b-held" }));
            Assert.That(await Keys("nobody", 10), Is.Empty);
        }
        var first = (await _stores.Quotas.FindLapsedAsync("acme", now, 1, None)).Single();
        Assert.That(first, Is.EqualTo(entries[1]), "found entries are whole");
    }

    [Test]
    public async Task Counters_start_at_zero_and_accumulate_used_and_held_independently_per_tenant()
    {
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(QuotaCounters.Zero));

        await _stores.Quotas.AddToCountersAsync("acme", new QuotaAmounts(1, 2, 3, 4), QuotaAmounts.Zero, None);
        await _stores.Quotas.AddToCountersAsync("acme", QuotaAmounts.Zero, new QuotaAmounts(10, 20, 30, 40), None);
        await _stores.Quotas.AddToCountersAsync("acme-2", new QuotaAmounts(100, 100, 100, 100), new QuotaAmounts(7, 7, 7, 7), None);
        await _stores.Quotas.AddToCountersAsync("acme", new QuotaAmounts(5, 0, -3, 1), new QuotaAmounts(-10, -5, 0, -40), None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Quotas.GetCountersAsync("acme", None),
                Is.EqualTo(new QuotaCounters(new QuotaAmounts(6, 2, 0, 5), new QuotaAmounts(0, 15, 30, 0))));
            Assert.That(await _stores.Quotas.GetCountersAsync("acme-2", None),
                Is.EqualTo(new QuotaCounters(new QuotaAmounts(100, 100, 100, 100), new QuotaAmounts(7, 7, 7, 7))));
            Assert.That(await _stores.Quotas.GetCountersAsync("nobody", None), Is.EqualTo(QuotaCounters.Zero));
        }
    }
}
