using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;

namespace OpenHvx.Orchestrator.Quotas;

/// <summary>
/// The quota rules, once for every store: a hold is checked against the tenant's counters (used + live holds) and claimed
/// once per task; a hold past its TTL stops counting (lapsed); a commit charges what the agent built even when its hold is
/// gone, flagged when that goes over a limit; every change of an entry changes the counters in the same transaction, so a
/// hold costs the same whatever the tenant's history.
/// </summary>
public sealed class QuotaLedger(IQuotaStore store, ITenantStore tenants, IStoreTransactions transactions, TimeProvider clock)
{
    private static string Key(Guid taskId) => taskId.ToString();

    /// <summary>Reserves <paramref name="deltas"/> for a task unless a limit would be exceeded. Idempotent per task.</summary>
    public Task<HoldOutcome> TryHoldAsync(Guid taskId, string tenantId, string? agentId, QuotaAmounts deltas, TimeSpan ttl, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            var now = clock.GetUtcNow();
            if (await store.GetEntryAsync(Key(taskId), cancellationToken) is { } existing)
                return new HoldOutcome(existing.Status is QuotaHoldStatuses.Held or QuotaHoldStatuses.Committed, existing.ExpiresAt, []);
            if (await tenants.GetAsync(tenantId, cancellationToken) is not { } tenant)
                return new HoldOutcome(false, now, [new QuotaExcess("tenant", 0, 0, 0, 0)]);
            var counters = await LiveCountersAsync(tenantId, now, cancellationToken);
            var exceeded = QuotaRules.Exceeded(tenant.Limits, counters.Used, counters.Held, deltas).ToList();
            if (exceeded.Count > 0)
                return new HoldOutcome(false, now, exceeded);
            var expiresAt = now + ttl;
            await store.TryInsertAsync(new QuotaLedgerEntry(Key(taskId), tenantId, agentId, deltas, QuotaHoldStatuses.Held, now, expiresAt), cancellationToken);
            await store.AddToCountersAsync(tenantId, QuotaAmounts.Zero, deltas, cancellationToken);
            return new HoldOutcome(true, expiresAt, []);
        }, cancellationToken);

    /// <summary>
    /// Turns the task's hold into usage. A released or lapsed hold is charged anyway (flagged when over a limit) so that
    /// what an agent built is never untracked. Idempotent: a second commit answers what the first decided.
    /// </summary>
    public Task<CommitOutcome> CommitAsync(Guid taskId, string tenantId, QuotaAmounts deltas, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            var now = clock.GetUtcNow();
            var entry = await store.GetEntryAsync(Key(taskId), cancellationToken);
            if (entry is { Status: QuotaHoldStatuses.Committed })
                return new CommitOutcome(true, entry.OverLimit, entry.HoldLapsed);
            if (entry is null && deltas == QuotaAmounts.Zero)
                return new CommitOutcome(true, false);
            if (entry is { Status: QuotaHoldStatuses.Held } && entry.ExpiresAt <= now)
                entry = await LapseAsync(entry, now, cancellationToken);

            var live = entry is { Status: QuotaHoldStatuses.Held };
            var overLimit = false;
            if (!live && await tenants.GetAsync(tenantId, cancellationToken) is { } tenant)
            {
                var counters = await LiveCountersAsync(tenantId, now, cancellationToken);
                overLimit = QuotaRules.Exceeded(tenant.Limits, counters.Used, counters.Held, deltas).Any();
            }
            // No entry at all is a lapse only where a hold was due (an increase); a task that only gives back never holds.
            var lapsed = !live && (entry is not null || HasIncrease(deltas));
            if (entry is null)
                await store.TryInsertAsync(new QuotaLedgerEntry(Key(taskId), tenantId, null, deltas, QuotaHoldStatuses.Committed, now, now, overLimit, lapsed), cancellationToken);
            else if (!await store.TrySettleAsync(entry.Key, entry.Status, QuotaHoldStatuses.Committed, deltas, overLimit, lapsed, now, cancellationToken))
                throw new InvalidOperationException($"Quota entry {entry.Key} changed under its transaction.");
            await store.AddToCountersAsync(tenantId, deltas, live ? Negate(entry!.Amounts) : QuotaAmounts.Zero, cancellationToken);
            return new CommitOutcome(true, overLimit, lapsed);
        }, cancellationToken);

    /// <summary>Releases a live hold. Idempotent; a committed entry is left alone.</summary>
    public Task ReleaseAsync(Guid taskId, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            if (await store.GetEntryAsync(Key(taskId), cancellationToken) is { Status: QuotaHoldStatuses.Held } entry
                && await store.TrySettleAsync(entry.Key, QuotaHoldStatuses.Held, QuotaHoldStatuses.Released, entry.Amounts, entry.OverLimit, false, clock.GetUtcNow(), cancellationToken))
                await store.AddToCountersAsync(entry.TenantId, QuotaAmounts.Zero, Negate(entry.Amounts), cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>Marks holds past their TTL as expired (a batch); returns how many.</summary>
    public Task<int> ExpireAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            var lapsed = await store.FindLapsedAsync(null, now, 500, cancellationToken);
            foreach (var entry in lapsed)
                await LapseAsync(entry, now, cancellationToken);
            return lapsed.Count;
        }, cancellationToken);

    /// <summary>Limits, usage and live holds; null for an unknown tenant.</summary>
    public async Task<QuotaUsage?> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        if (await tenants.GetAsync(tenantId, cancellationToken) is not { } tenant)
            return null;
        var now = clock.GetUtcNow();
        var counters = await store.GetCountersAsync(tenantId, cancellationToken);
        // Holds past their TTL that the sweeper has not marked yet no longer count.
        var lapsed = await store.FindLapsedAsync(tenantId, now, int.MaxValue, cancellationToken);
        var held = lapsed.Aggregate(counters.Held, (sum, entry) => Add(sum, Negate(entry.Amounts)));
        var limits = tenant.Limits;
        return new QuotaUsage(
            new QuotaLine(limits.Cpu, counters.Used.Cpu, held.Cpu),
            new QuotaLine(limits.MemoryMB, counters.Used.MemoryMB, held.MemoryMB),
            new QuotaLine(limits.StorageMB, counters.Used.StorageMB, held.StorageMB),
            new QuotaLine(limits.VmCount, counters.Used.VmCount, held.VmCount));
    }

    /// <summary>Books a committed correction (positive or negative) of a tenant's usage, for example after a recount.</summary>
    public Task AdjustAsync(string tenantId, QuotaAmounts delta, CancellationToken cancellationToken = default)
        => CorrectAsync(tenantId, null, delta, "adjust", cancellationToken);

    /// <summary>
    /// Books a committed correction (key <c>&lt;reason&gt;-…</c>): a recount's, or what reconciliation found on a host (a VM gone,
    /// resized or back). Never refused, since it books what exists; true, and flagged on its entry, when an increase goes over a limit.
    /// </summary>
    public Task<bool> CorrectAsync(string tenantId, string? agentId, QuotaAmounts delta, string reason, CancellationToken cancellationToken = default)
        => transactions.InTransactionAsync(async () =>
        {
            var now = clock.GetUtcNow();
            var overLimit = false;
            if (HasIncrease(delta) && await tenants.GetAsync(tenantId, cancellationToken) is { } tenant)
            {
                var counters = await LiveCountersAsync(tenantId, now, cancellationToken);
                overLimit = QuotaRules.Exceeded(tenant.Limits, counters.Used, counters.Held, delta).Any();
            }
            await store.TryInsertAsync(new QuotaLedgerEntry($"{reason}-{Guid.NewGuid():N}", tenantId, agentId, delta, QuotaHoldStatuses.Committed, now, now, overLimit),
                cancellationToken);
            await store.AddToCountersAsync(tenantId, delta, QuotaAmounts.Zero, cancellationToken);
            return overLimit;
        }, cancellationToken);

    /// <summary>The tenant's counters once its lapsed holds are marked expired (within the caller's transaction).</summary>
    private async Task<QuotaCounters> LiveCountersAsync(string tenantId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var entry in await store.FindLapsedAsync(tenantId, now, int.MaxValue, cancellationToken))
            await LapseAsync(entry, now, cancellationToken);
        return await store.GetCountersAsync(tenantId, cancellationToken);
    }

    private async Task<QuotaLedgerEntry> LapseAsync(QuotaLedgerEntry entry, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await store.TrySettleAsync(entry.Key, QuotaHoldStatuses.Held, QuotaHoldStatuses.Expired, entry.Amounts, entry.OverLimit, true, now, cancellationToken))
            await store.AddToCountersAsync(entry.TenantId, QuotaAmounts.Zero, Negate(entry.Amounts), cancellationToken);
        return entry with { Status = QuotaHoldStatuses.Expired };
    }

    private static bool HasIncrease(QuotaAmounts a) => a.Cpu > 0 || a.MemoryMB > 0 || a.StorageMB > 0 || a.VmCount > 0;

    private static QuotaAmounts Negate(QuotaAmounts a) => new(-a.Cpu, -a.MemoryMB, -a.StorageMB, -a.VmCount);

    private static QuotaAmounts Add(QuotaAmounts a, QuotaAmounts b) => new(a.Cpu + b.Cpu, a.MemoryMB + b.MemoryMB, a.StorageMB + b.StorageMB, a.VmCount + b.VmCount);
}
