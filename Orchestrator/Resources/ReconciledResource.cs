using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Resources;

/// <summary>
/// A resource as reconciliation left it, for recount's report: <c>gone</c> (charged <paramref name="Before"/>, now nothing) or
/// <c>resized</c> (charged its real size: <paramref name="Before"/> then <paramref name="After"/>, flagged when over a limit).
/// </summary>
public sealed record ReconciledResource(string ResourceId, string Name, string AgentId, string Change, QuotaAmounts? Before, QuotaAmounts? After,
    bool OverLimit, DateTimeOffset At)
{
    /// <summary>Null for a resource reconciliation has not changed (or whose last change a task has since replaced).</summary>
    public static ReconciledResource? From(TenantResource r) => r switch
    {
        { State: ResourceStates.Gone } => new(r.ResourceId, r.Name, r.AgentId, ResourceChanges.Gone, r.Charge, null, false, r.GoneAt ?? r.CreatedAt),
        { Recharged: { } recharge } => new(r.ResourceId, r.Name, r.AgentId, ResourceChanges.Resized, recharge.Before, r.Charge, recharge.OverLimit, recharge.At),
        _ => null,
    };
}
