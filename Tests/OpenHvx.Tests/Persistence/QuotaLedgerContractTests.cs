using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>
/// <see cref="QuotaLedger"/>'s rules on top of each adapter's <see cref="IQuotaStore"/>: the rules are written once, so any
/// difference here is an adapter's primitive not doing what the port says.
/// </summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class QuotaLedgerContractTests(string family) : StoreContract(family)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(5);

    private QuotaLedger Ledger => _stores.Ledger;

    private static QuotaAmounts Cpu(long cpu) => new(cpu, 0, 0, 0);

    private async Task CreateTenantAsync(string tenantId, QuotaAmounts limits)
        => Assert.That(await _stores.Tenants.TryCreateAsync(new Tenant(tenantId, tenantId, Tenant.Active, limits), None), Is.True);

    private async Task<QuotaLedgerEntry> EntryAsync(Guid taskId) => (await _stores.Quotas.GetEntryAsync(taskId.ToString(), None))!;

    private async Task<(QuotaAmounts Used, QuotaAmounts Held)> UsageAsync(string tenantId)
    {
        var usage = (await Ledger.GetUsageAsync(tenantId, None))!;
        return (new QuotaAmounts(usage.Cpu.Used, usage.MemoryMB.Used, usage.StorageMB.Used, usage.VmCount.Used),
            new QuotaAmounts(usage.Cpu.Held, usage.MemoryMB.Held, usage.StorageMB.Held, usage.VmCount.Held));
    }

    /// <summary>
    /// The counters equal the ledger's sums: raw counters = committed entries (used) and entries still marked held (held); the
    /// usage the API shows = committed entries and held entries not past their TTL.
    /// </summary>
    private async Task AssertCountersMatchTheLedgerAsync(string tenantId, string step)
    {
        var now = Clock.GetUtcNow();
        var sums = await _stores.ReadLedgerSumsAsync(tenantId, now);
        var counters = await _stores.Quotas.GetCountersAsync(tenantId, None);
        var usage = await UsageAsync(tenantId);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(counters.Used, Is.EqualTo(sums.Committed), $"{tenantId} used counter after {step}");
            Assert.That(counters.Held, Is.EqualTo(sums.Held), $"{tenantId} held counter after {step}");
            Assert.That(usage.Used, Is.EqualTo(sums.Committed), $"{tenantId} usage (used) after {step}");
            Assert.That(usage.Held, Is.EqualTo(sums.HeldLive), $"{tenantId} usage (held, live only) after {step}");
        }
    }

    [Test]
    public async Task Counters_equal_the_ledger_sums_after_every_step_of_a_pseudo_random_sequence_of_operations()
    {
        string[] tenants = ["small", "medium", "unlimited"];
        await CreateTenantAsync("small", new QuotaAmounts(4, 8192, 100_000, 2));
        await CreateTenantAsync("medium", new QuotaAmounts(12, 32768, 400_000, 6));
        await CreateTenantAsync("unlimited", new QuotaAmounts(-1, -1, -1, -1));
        var random = new Random(20240612);
        var tasks = new List<(Guid Id, string Tenant, QuotaAmounts Amounts)>();
        var outcomes = new Dictionary<string, int>();
        void Count(string outcome) => outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        QuotaAmounts RandomAmounts() => new(random.Next(1, 4), 1024L * random.Next(1, 5), 10_240L * random.Next(1, 4), random.Next(0, 2));

        for (var step = 0; step < 500; step++)
        {
            var roll = random.Next(100);
            string description;
            if (roll < 35)
            {
                // A hold: mostly a new task, sometimes a task asking again.
                var again = tasks.Count > 0 && random.Next(10) == 0;
                var (id, tenant, amounts) = again ? tasks[random.Next(tasks.Count)] : (Guid.NewGuid(), tenants[random.Next(tenants.Length)], RandomAmounts());
                var outcome = await Ledger.TryHoldAsync(id, tenant, "agent-1", amounts, TimeSpan.FromSeconds(random.Next(30, 600)));
                if (!again)
                    tasks.Add((id, tenant, amounts));
                Count(again ? "hold again" : outcome.Held ? "held" : "refused");
                description = $"hold {tenant} {amounts} again={again} -> {outcome.Held}";
            }
            else if (roll < 55 && tasks.Count > 0)
            {
                // A commit: what was held, something else (an agent built more or less, or gave back), or nothing.
                var (id, tenant, amounts) = random.Next(8) == 0 ? (Guid.NewGuid(), tenants[random.Next(tenants.Length)], RandomAmounts()) : tasks[random.Next(tasks.Count)];
                var deltas = random.Next(4) switch
                {
                    0 => RandomAmounts(),
                    1 => new QuotaAmounts(-amounts.Cpu, -amounts.MemoryMB, -amounts.StorageMB, -amounts.VmCount),
                    2 when random.Next(3) == 0 => QuotaAmounts.Zero,
                    _ => amounts,
                };
                var outcome = await Ledger.CommitAsync(id, tenant, deltas);
                Count(outcome.HoldLapsed ? "commit lapsed" : "commit");
                if (outcome.OverLimit)
                    Count("commit over limit");
                description = $"commit {tenant} {deltas} -> {outcome}";
            }
            else if (roll < 70 && tasks.Count > 0)
            {
                var (id, tenant, _) = tasks[random.Next(tasks.Count)];
                await Ledger.ReleaseAsync(id);
                Count("release");
                description = $"release {tenant}";
            }
            else if (roll < 78)
            {
                var expired = await Ledger.ExpireAsync(Clock.GetUtcNow());
                Count(expired > 0 ? "sweep expired some" : "sweep");
                description = $"sweep -> {expired}";
            }
            else if (roll < 86)
            {
                var tenant = tenants[random.Next(tenants.Length)];
                var delta = random.Next(2) == 0 ? RandomAmounts() : new QuotaAmounts(-random.Next(1, 3), -1024, 0, -1);
                await Ledger.AdjustAsync(tenant, delta);
                Count("adjust");
                description = $"adjust {tenant} {delta}";
            }
            else
            {
                var by = TimeSpan.FromSeconds(random.Next(10, 240));
                Clock.Advance(by);
                description = $"clock +{by}";
            }

            foreach (var tenant in tenants)
                await AssertCountersMatchTheLedgerAsync(tenant, $"step {step}: {description}");
        }

        // The sequence went through every rule, so the invariant was checked on each of them.
        Assert.That(outcomes.Keys, Is.SupersetOf(new[] { "held", "refused", "hold again", "commit", "commit lapsed", "commit over limit", "release", "sweep expired some", "adjust" }),
            string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
    }

    [Test]
    public async Task A_hold_over_a_limit_is_refused_and_writes_nothing()
    {
        await CreateTenantAsync("acme", new QuotaAmounts(4, 8192, -1, 2));
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        Assert.That((await Ledger.TryHoldAsync(first, "acme", "agent-1", new QuotaAmounts(2, 4096, 50_000, 1), Ttl)).Held, Is.True);
        var before = await _stores.Quotas.GetCountersAsync("acme", None);

        var refused = await Ledger.TryHoldAsync(second, "acme", "agent-1", new QuotaAmounts(3, 1024, 900_000, 1), Ttl);

        Assert.That(refused.Held, Is.False);
        Assert.That(refused.Exceeded, Is.EqualTo(new[] { new QuotaExcess("cpu", 4, 0, 2, 3) }), "only cpu is over; storage is unlimited");
        Assert.That(await _stores.Quotas.GetEntryAsync(second.ToString(), None), Is.Null, "no ledger entry");
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(before), "counters unchanged");
        await AssertCountersMatchTheLedgerAsync("acme", "the refusal");
    }

    [Test]
    public async Task Concurrent_holds_never_take_more_than_the_limit()
    {
        await CreateTenantAsync("acme", new QuotaAmounts(5, -1, -1, 5));
        var retries = 0;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            var taskId = Guid.NewGuid();
            while (true)
            {
                try
                {
                    return await Ledger.TryHoldAsync(taskId, "acme", "agent-1", new QuotaAmounts(1, 512, 1024, 1), Ttl);
                }
                catch (Exception ex) when (_stores.IsTransient(ex))
                {
                    // The whole hold again, as a redelivered message would run it.
                    Interlocked.Increment(ref retries);
                }
            }
        })));

        Assert.That(outcomes.Count(o => o.Held), Is.EqualTo(5), $"holds granted ({retries} retried)");
        Assert.That((await _stores.Quotas.GetCountersAsync("acme", None)).Held, Is.EqualTo(new QuotaAmounts(5, 2560, 5120, 5)));
        await AssertCountersMatchTheLedgerAsync("acme", "the concurrent holds");
    }

    [Test]
    public async Task A_hold_for_an_unknown_tenant_is_refused_and_writes_nothing()
    {
        var taskId = Guid.NewGuid();

        var refused = await Ledger.TryHoldAsync(taskId, "nobody", null, Cpu(1), Ttl);

        Assert.That((refused.Held, refused.Exceeded.Single().Resource), Is.EqualTo((false, "tenant")));
        Assert.That(await _stores.Quotas.GetEntryAsync(taskId.ToString(), None), Is.Null);
        Assert.That(await _stores.Quotas.GetCountersAsync("nobody", None), Is.EqualTo(QuotaCounters.Zero));
    }

    [Test]
    public async Task A_hold_is_idempotent_per_task_and_counted_once()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var taskId = Guid.NewGuid();
        var first = await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(3), Ttl);
        Clock.Advance(TimeSpan.FromMinutes(1));

        // Asked again (a redelivered message), even with amounts that would no longer fit: the first claim answers.
        var again = await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(4), Ttl);

        Assert.That((again.Held, again.ExpiresAt, again.Exceeded.Count), Is.EqualTo((true, first.ExpiresAt, 0)));
        Assert.That((await EntryAsync(taskId)).Amounts, Is.EqualTo(Cpu(3)));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(QuotaAmounts.Zero, Cpu(3))));
    }

    [Test]
    public async Task A_released_hold_is_not_taken_again_by_the_same_task()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var taskId = Guid.NewGuid();
        await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(2), Ttl);
        await Ledger.ReleaseAsync(taskId);

        var again = await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(2), Ttl);

        Assert.That(again.Held, Is.False);
        Assert.That((await EntryAsync(taskId)).Status, Is.EqualTo(QuotaHoldStatuses.Released));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(QuotaCounters.Zero));
    }

    [Test]
    public async Task A_release_frees_a_live_hold_once_and_leaves_a_committed_entry_alone()
    {
        await CreateTenantAsync("acme", Cpu(8) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var released = Guid.NewGuid();
        var committed = Guid.NewGuid();
        await Ledger.TryHoldAsync(released, "acme", "agent-1", Cpu(2), Ttl);
        await Ledger.TryHoldAsync(committed, "acme", "agent-1", Cpu(3), Ttl);
        await Ledger.CommitAsync(committed, "acme", Cpu(3));

        await Ledger.ReleaseAsync(released);
        await Ledger.ReleaseAsync(released);
        await Ledger.ReleaseAsync(committed);
        await Ledger.ReleaseAsync(Guid.NewGuid());

        Assert.That((await EntryAsync(released)).Status, Is.EqualTo(QuotaHoldStatuses.Released));
        Assert.That((await EntryAsync(committed)).Status, Is.EqualTo(QuotaHoldStatuses.Committed));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(3), QuotaAmounts.Zero)));
        await AssertCountersMatchTheLedgerAsync("acme", "the releases");
    }

    [Test]
    public async Task A_second_commit_returns_the_first_commits_flags_even_after_other_holds_lowered_the_usage()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var lapsed = Guid.NewGuid();
        var other = Guid.NewGuid();
        await Ledger.TryHoldAsync(lapsed, "acme", "agent-1", Cpu(2), TimeSpan.FromMinutes(1));
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That((await Ledger.TryHoldAsync(other, "acme", "agent-1", Cpu(3), Ttl)).Held, Is.True, "the lapsed hold no longer counts");

        var first = await Ledger.CommitAsync(lapsed, "acme", Cpu(2));
        await Ledger.ReleaseAsync(other);
        var second = await Ledger.CommitAsync(lapsed, "acme", Cpu(2));

        Assert.That(first, Is.EqualTo(new CommitOutcome(true, OverLimit: true, HoldLapsed: true)), "3 held + 2 charged > 4");
        Assert.That(second, Is.EqualTo(first), "the retry answers what the first commit decided, though 2 of 4 would fit now");
        var entry = await EntryAsync(lapsed);
        Assert.That((entry.Status, entry.OverLimit, entry.HoldLapsed), Is.EqualTo((QuotaHoldStatuses.Committed, true, true)));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(2), QuotaAmounts.Zero)), "charged once");
    }

    [Test]
    public async Task A_second_commit_returns_the_first_commits_flags_even_after_other_holds_raised_the_usage()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var taskId = Guid.NewGuid();
        await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(2), Ttl);

        var first = await Ledger.CommitAsync(taskId, "acme", Cpu(2));
        await Ledger.AdjustAsync("acme", Cpu(5));
        var second = await Ledger.CommitAsync(taskId, "acme", Cpu(2));

        Assert.That(first, Is.EqualTo(new CommitOutcome(true, OverLimit: false, HoldLapsed: false)));
        Assert.That(second, Is.EqualTo(first), "not over the limit, though 7 of 4 are used now");
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(7), QuotaAmounts.Zero)), "charged once");
    }

    [Test]
    public async Task A_lapsed_hold_stops_counting_before_the_sweeper_marks_it()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var lapsed = Guid.NewGuid();
        await Ledger.TryHoldAsync(lapsed, "acme", "agent-1", Cpu(3), TimeSpan.FromMinutes(1));
        Clock.Advance(TimeSpan.FromSeconds(90));

        Assert.That((await EntryAsync(lapsed)).Status, Is.EqualTo(QuotaHoldStatuses.Held), "not swept yet");
        Assert.That((await UsageAsync("acme")).Held, Is.EqualTo(QuotaAmounts.Zero), "its TTL has passed: it no longer counts");
        var next = await Ledger.TryHoldAsync(Guid.NewGuid(), "acme", "agent-1", Cpu(4), Ttl);

        Assert.That(next.Held, Is.True, "the whole limit is free for the next hold");
        Assert.That((await EntryAsync(lapsed)).Status, Is.EqualTo(QuotaHoldStatuses.Expired), "the hold marked what it stopped counting");
        await AssertCountersMatchTheLedgerAsync("acme", "the hold after the lapse");
    }

    [Test]
    public async Task The_sweeper_marks_lapsed_holds_expired_and_takes_them_off_the_counters()
    {
        await CreateTenantAsync("acme", Cpu(8) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var soon = Guid.NewGuid();
        var later = Guid.NewGuid();
        await Ledger.TryHoldAsync(soon, "acme", "agent-1", Cpu(2), TimeSpan.FromMinutes(1));
        await Ledger.TryHoldAsync(later, "acme", "agent-1", Cpu(3), TimeSpan.FromMinutes(10));
        Clock.Advance(TimeSpan.FromMinutes(2));

        Assert.That(await Ledger.ExpireAsync(Clock.GetUtcNow()), Is.EqualTo(1));
        Assert.That(await Ledger.ExpireAsync(Clock.GetUtcNow()), Is.Zero, "once");

        Assert.That((await EntryAsync(soon)).Status, Is.EqualTo(QuotaHoldStatuses.Expired));
        Assert.That((await EntryAsync(later)).Status, Is.EqualTo(QuotaHoldStatuses.Held));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(QuotaAmounts.Zero, Cpu(3))));
    }

    [TestCase(false, TestName = "{m}(before the sweep)")]
    [TestCase(true, TestName = "{m}(after the sweep)")]
    public async Task A_commit_of_a_lapsed_hold_is_charged_and_flagged(bool swept)
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var taskId = Guid.NewGuid();
        await Ledger.TryHoldAsync(taskId, "acme", "agent-1", Cpu(2), TimeSpan.FromMinutes(1));
        Clock.Advance(TimeSpan.FromMinutes(3));
        if (swept)
            await Ledger.ExpireAsync(Clock.GetUtcNow());

        var outcome = await Ledger.CommitAsync(taskId, "acme", Cpu(2));

        Assert.That(outcome, Is.EqualTo(new CommitOutcome(true, OverLimit: false, HoldLapsed: true)));
        var entry = await EntryAsync(taskId);
        Assert.That((entry.Status, entry.Amounts, entry.HoldLapsed, entry.OverLimit), Is.EqualTo((QuotaHoldStatuses.Committed, Cpu(2), true, false)));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(2), QuotaAmounts.Zero)));
    }

    [Test]
    public async Task A_commit_of_a_lapsed_hold_that_no_longer_fits_is_charged_and_flagged_over_the_limit()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        var lapsed = Guid.NewGuid();
        await Ledger.TryHoldAsync(lapsed, "acme", "agent-1", Cpu(3), TimeSpan.FromMinutes(1));
        Clock.Advance(TimeSpan.FromMinutes(2));
        await Ledger.TryHoldAsync(Guid.NewGuid(), "acme", "agent-1", Cpu(3), Ttl);

        var outcome = await Ledger.CommitAsync(lapsed, "acme", Cpu(3));

        Assert.That(outcome, Is.EqualTo(new CommitOutcome(true, OverLimit: true, HoldLapsed: true)));
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(3), Cpu(3))), "what was built is tracked, over the limit");
        await AssertCountersMatchTheLedgerAsync("acme", "the over-limit commit");
    }

    [Test]
    public async Task A_commit_without_a_hold_is_flagged_lapsed_only_when_it_takes_more()
    {
        await CreateTenantAsync("acme", Cpu(4) with { MemoryMB = -1, StorageMB = -1, VmCount = -1 });
        await Ledger.AdjustAsync("acme", Cpu(3));

        var givesBack = await Ledger.CommitAsync(Guid.NewGuid(), "acme", Cpu(-2));
        var takes = await Ledger.CommitAsync(Guid.NewGuid(), "acme", Cpu(1));
        var nothing = Guid.NewGuid();
        var none = await Ledger.CommitAsync(nothing, "acme", QuotaAmounts.Zero);

        Assert.That(givesBack, Is.EqualTo(new CommitOutcome(true, false, false)));
        Assert.That(takes, Is.EqualTo(new CommitOutcome(true, false, true)));
        Assert.That(none, Is.EqualTo(new CommitOutcome(true, false)));
        Assert.That(await _stores.Quotas.GetEntryAsync(nothing.ToString(), None), Is.Null, "a commit of nothing writes nothing");
        Assert.That(await _stores.Quotas.GetCountersAsync("acme", None), Is.EqualTo(new QuotaCounters(Cpu(2), QuotaAmounts.Zero)));
        await AssertCountersMatchTheLedgerAsync("acme", "the commits");
    }

    [Test]
    public async Task A_hold_is_decided_on_the_counters_whatever_the_ledger_holds()
    {
        var limits = new QuotaAmounts(4, 8192, 100_000, 2);
        foreach (var tenant in new[] { "busy", "fresh", "other" })
            await CreateTenantAsync(tenant, limits);
        var past = Clock.GetUtcNow().AddDays(-30);
        var history = new List<QuotaLedgerEntry>();
        // Another tenant's 5,000 finished tasks, and "busy"'s own history: 300 finished (committed, released, expired) tasks
        // whose usage has since been given back. Seeded without the counters: a hold that summed the ledger would see them.
        for (var i = 0; i < 5000; i++)
            history.Add(new QuotaLedgerEntry($"other-{i}", "other", "agent-1", new QuotaAmounts(2, 2048, 10_240, 1), QuotaHoldStatuses.Committed, past, past));
        string[] statuses = [QuotaHoldStatuses.Committed, QuotaHoldStatuses.Released, QuotaHoldStatuses.Expired];
        for (var i = 0; i < 300; i++)
            history.Add(new QuotaLedgerEntry($"busy-{i}", "busy", "agent-1", new QuotaAmounts(2, 2048, 10_240, 1), statuses[i % 3], past, past));
        await _stores.SeedLedgerAsync(history);

        var onHistory = await Ledger.TryHoldAsync(Guid.NewGuid(), "busy", "agent-1", limits, Ttl);
        var onEmpty = await Ledger.TryHoldAsync(Guid.NewGuid(), "fresh", "agent-1", limits, Ttl);
        var overOnHistory = await Ledger.TryHoldAsync(Guid.NewGuid(), "busy", "agent-1", Cpu(1), Ttl);
        var overOnEmpty = await Ledger.TryHoldAsync(Guid.NewGuid(), "fresh", "agent-1", Cpu(1), Ttl);

        Assert.That((onHistory.Held, onHistory.Exceeded.Count), Is.EqualTo((true, 0)), "the whole limit fits whatever the history");
        Assert.That((onEmpty.Held, onEmpty.Exceeded.Count), Is.EqualTo((true, 0)));
        Assert.That(overOnHistory.Exceeded, Is.EqualTo(overOnEmpty.Exceeded), "the same refusal, with the same figures, as on an empty ledger");
        Assert.That(overOnHistory.Exceeded, Is.EqualTo(new[] { new QuotaExcess("cpu", 4, 0, 4, 1) }));

        // And the other way round: counters at the limit refuse a hold although the ledger has nothing of the tenant.
        await CreateTenantAsync("counted", limits);
        await _stores.Quotas.AddToCountersAsync("counted", Cpu(4), QuotaAmounts.Zero, None);
        var onCounters = await Ledger.TryHoldAsync(Guid.NewGuid(), "counted", "agent-1", Cpu(1), Ttl);
        Assert.That(onCounters.Exceeded, Is.EqualTo(new[] { new QuotaExcess("cpu", 4, 4, 0, 1) }));
    }
}
