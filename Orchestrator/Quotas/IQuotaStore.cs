using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Quotas;

public sealed record QuotaLine(long Limit, long Used, long Held);

public sealed record QuotaUsage(QuotaLine Cpu, QuotaLine MemoryMB, QuotaLine StorageMB, QuotaLine VmCount);

/// <summary>One limit a hold would exceed.</summary>
public sealed record QuotaExcess(string Resource, long Limit, long Used, long Held, long Requested);

public sealed record HoldOutcome(bool Held, DateTimeOffset ExpiresAt, IReadOnlyList<QuotaExcess> Exceeded);

/// <param name="HoldLapsed">the hold had expired or been released: the charge was booked without it</param>
public sealed record CommitOutcome(bool Committed, bool OverLimit, bool HoldLapsed = false);

/// <summary>
/// One row of the quota ledger: a task's hold (or an operator's correction, key <c>adjust-…</c>) with its status
/// (<see cref="Tasks.QuotaHoldStatuses"/>).
/// </summary>
public sealed record QuotaLedgerEntry(string Key, string TenantId, string? AgentId, QuotaAmounts Amounts, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, bool OverLimit = false, bool HoldLapsed = false);

/// <summary>A tenant's running sums: committed entries (used) and live holds (held).</summary>
public sealed record QuotaCounters(QuotaAmounts Used, QuotaAmounts Held)
{
    public static readonly QuotaCounters Zero = new(QuotaAmounts.Zero, QuotaAmounts.Zero);
}

/// <summary>
/// Storage primitives of the quota ledger and its per-tenant counters; the rules are <see cref="QuotaLedger"/>'s.
/// Every call joins the running store transaction (<see cref="Persistence.IStoreTransactions"/>).
/// </summary>
public interface IQuotaStore
{
    Task<QuotaLedgerEntry?> GetEntryAsync(string key, CancellationToken cancellationToken);

    /// <summary>The tenant's counters (zero when it has none yet).</summary>
    Task<QuotaCounters> GetCountersAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Entries still <c>held</c> whose TTL has passed (of one tenant, or of all), oldest first.</summary>
    Task<IReadOnlyList<QuotaLedgerEntry>> FindLapsedAsync(string? tenantId, DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Inserts a new entry; false when one with its key exists.</summary>
    Task<bool> TryInsertAsync(QuotaLedgerEntry entry, CancellationToken cancellationToken);

    /// <summary>Compare-and-set: gives the entry <paramref name="status"/>, its amounts and flags if its status is still <paramref name="expectedStatus"/>.</summary>
    Task<bool> TrySettleAsync(string key, string expectedStatus, string status, QuotaAmounts amounts, bool overLimit, bool holdLapsed,
        DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>How many entries are <c>held</c> now, lapsed or not (one count, for the metrics).</summary>
    Task<long> CountHeldAsync(CancellationToken cancellationToken);

    /// <summary>Adds to the tenant's counters (creating them at zero).</summary>
    Task AddToCountersAsync(string tenantId, QuotaAmounts used, QuotaAmounts held, CancellationToken cancellationToken);
}
