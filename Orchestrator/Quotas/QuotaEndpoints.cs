using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Quotas;

/// <summary>Per-tenant quotas: usage and holds, limit changes (never touching usage), and a recount from linked resources.</summary>
public static class QuotaEndpoints
{
    public static RouteGroupBuilder MapAdminQuotaEndpoints(this RouteGroupBuilder admin)
    {
        var quotas = admin.MapGroup("/tenants/{tenantId}/quotas").WithTags("Quotas");
        quotas.MapGet("", async (string tenantId, QuotaLedger store, CancellationToken ct) =>
            await store.GetUsageAsync(tenantId, ct) is { } usage ? Results.Ok(usage) : TenantEndpoints.NotFound(tenantId));
        quotas.MapPatch("", PatchAsync);
        quotas.MapPost("/recount", RecountAsync);
        return admin;
    }

    public static RouteGroupBuilder MapTenantQuotaEndpoints(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/quotas", async (HttpContext http, QuotaLedger store, CancellationToken ct) =>
            await store.GetUsageAsync(Tasks.Caller.From(http.User).TenantId!, ct) is { } usage ? Results.Ok(usage) : TenantEndpoints.NotFound(Tasks.Caller.From(http.User).TenantId!))
            .WithTags("Quotas");
        return tenant;
    }

    private static async Task<IResult> PatchAsync(string tenantId, HttpContext http, ITenantStore tenants, QuotaLedger quotas)
    {
        if (await tenants.GetAsync(tenantId, http.RequestAborted) is not { } tenant)
            return TenantEndpoints.NotFound(tenantId);
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        var limits = QuotaLimits.Read(body, tenant.Limits, errors);
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());
        await tenants.UpsertAsync(tenant with { Limits = limits }, http.RequestAborted);
        return Results.Ok(await quotas.GetUsageAsync(tenantId, http.RequestAborted));
    }

    /// <summary>What <paramref name="owned"/> resources (none gone) charge: the usage a recount expects.</summary>
    public static QuotaAmounts UsageOf(IEnumerable<TenantResource> owned)
        => owned.Aggregate(QuotaAmounts.Zero, (sum, r) => new QuotaAmounts(
            sum.Cpu + (r.Charge?.Cpu ?? 0), sum.MemoryMB + (r.Charge?.MemoryMB ?? 0), sum.StorageMB + (r.Charge?.StorageMB ?? 0),
            sum.VmCount + (r.Kind == "vm" ? 1 : 0)));

    /// <summary>
    /// Usage recomputed from the tenant's linked resources (a VM gone from its host counts nothing); the difference is booked as a
    /// correction and reported, with what reconciliation changed (VMs gone, VMs charged their real size).
    /// </summary>
    private static async Task<IResult> RecountAsync(string tenantId, QuotaLedger quotas, IResourceStore resources, CancellationToken ct)
    {
        if (await quotas.GetUsageAsync(tenantId, ct) is not { } before)
            return TenantEndpoints.NotFound(tenantId);
        var linked = await resources.ListAsync(tenantId, ct);
        var owned = linked.Where(r => r.State != ResourceStates.Gone).ToList();
        var expected = UsageOf(owned);
        var drift = new QuotaAmounts(expected.Cpu - before.Cpu.Used, expected.MemoryMB - before.MemoryMB.Used,
            expected.StorageMB - before.StorageMB.Used, expected.VmCount - before.VmCount.Used);
        if (drift != QuotaAmounts.Zero)
            await quotas.AdjustAsync(tenantId, drift, ct);
        var after = await quotas.GetUsageAsync(tenantId, ct);
        var reconciled = linked.Select(ReconciledResource.From).OfType<ReconciledResource>().ToList();
        return Results.Ok(new { corrected = drift != QuotaAmounts.Zero, drift, resources = owned.Count, before, after, reconciled });
    }
}
