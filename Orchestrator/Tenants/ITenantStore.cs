using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Tenants;

/// <param name="CreatedAt">when this tenant was created: a token issued before it belongs to an earlier tenant of the same id</param>
public sealed record Tenant(string TenantId, string Name, string Status, QuotaAmounts Limits, DateTimeOffset CreatedAt = default)
{
    public const string Active = "active";
    public const string Disabled = "disabled";
}

public interface ITenantStore
{
    Task<Tenant?> GetAsync(string tenantId, CancellationToken cancellationToken = default);
    Task UpsertAsync(Tenant tenant, CancellationToken cancellationToken = default);
    /// <summary>Creates the tenant unless it exists; an existing tenant is left as it is.</summary>
    Task<bool> TryCreateAsync(Tenant tenant, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<Tenant>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the tenant with everything it owns (tasks, quota holds and usage, idempotency keys, VM names and locks,
    /// placements), so that a tenant created again under the same id starts empty.
    /// </summary>
    Task<bool> DeleteAsync(string tenantId, CancellationToken cancellationToken = default);
}
