using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Quotas;
using OpenHvx.Orchestrator.Resources;
using OpenHvx.Orchestrator.Security;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tenants;

/// <summary>Admin tenant management (api.md: tenants).</summary>
public static class TenantEndpoints
{
    private static readonly HashSet<string> CreateFields = ["tenantId", "name", "status", "limits"];
    private static readonly HashSet<string> UpdateFields = ["name", "status", "limits"];
    private static readonly QuotaAmounts Unlimited = new(-1, -1, -1, -1);

    public static RouteGroupBuilder MapAdminTenantEndpoints(this RouteGroupBuilder admin)
    {
        var tenants = admin.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapPost("", CreateAsync);
        tenants.MapGet("", async (ITenantStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct)));
        tenants.MapGet("/{tenantId}", async (string tenantId, ITenantStore store, CancellationToken ct) =>
            await store.GetAsync(tenantId, ct) is { } tenant ? Results.Ok(tenant) : NotFound(tenantId));
        tenants.MapPatch("/{tenantId}", UpdateAsync);
        tenants.MapDelete("/{tenantId}", DeleteAsync);
        return admin;
    }

    internal static IResult NotFound(string tenantId) => Problems.Result(ErrorCodes.NotFound, $"Tenant '{tenantId}' was not found.");

    private static async Task<IResult> CreateAsync(HttpContext http, ITenantStore store)
    {
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        errors.RejectUnknown(body, CreateFields);
        var fields = new BodyFields(body, errors);
        var tenantId = fields.Text("tenantId", required: true, Identifiers.IsTenantId, Identifiers.TenantIdRule);
        var name = Name(fields) ?? tenantId ?? "";
        var status = Status(fields) ?? Tenant.Active;
        var limits = body.TryGetProperty("limits", out var l) && l.ValueKind != JsonValueKind.Null ? QuotaLimits.Read(l, Unlimited, errors, "limits.") : Unlimited;
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());

        if (!await store.TryCreateAsync(new Tenant(tenantId!, name, status, limits), http.RequestAborted))
            return Problems.Result(ErrorCodes.TenantExists, $"Tenant '{tenantId}' already exists.");
        return Results.Created($"/api/v1/admin/tenants/{tenantId}", await store.GetAsync(tenantId!, http.RequestAborted));
    }

    private static async Task<IResult> UpdateAsync(string tenantId, HttpContext http, ITenantStore store)
    {
        if (await store.GetAsync(tenantId, http.RequestAborted) is not { } tenant)
            return NotFound(tenantId);
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        errors.RejectUnknown(body, UpdateFields);
        var fields = new BodyFields(body, errors);
        var name = Name(fields) ?? tenant.Name;
        var status = Status(fields) ?? tenant.Status;
        var limits = body.TryGetProperty("limits", out var l) && l.ValueKind != JsonValueKind.Null ? QuotaLimits.Read(l, tenant.Limits, errors, "limits.") : tenant.Limits;
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());
        var updated = tenant with { Name = name, Status = status, Limits = limits };
        await store.UpsertAsync(updated, http.RequestAborted);
        return Results.Ok(updated);
    }

    /// <summary>
    /// Refused while the tenant owns resources or has tasks in flight. Its accounts go first (the token service removes its
    /// users and clients and ends their tokens; the tenant stays when that fails, so a retry finishes the job), then the
    /// tenant with everything it owns: a tenant created again under this id starts empty and with nobody.
    /// </summary>
    private static async Task<IResult> DeleteAsync(string tenantId, HttpContext http, ITenantStore store, IResourceStore resources, ITaskStore tasks,
        IdentityDirectory identities)
    {
        var ct = http.RequestAborted;
        if (await store.GetAsync(tenantId, ct) is null)
            return NotFound(tenantId);
        var owned = await resources.ListAsync(tenantId, ct);
        if (owned.Count > 0)
            return Problems.Result(ErrorCodes.TenantHasResources, $"Tenant '{tenantId}' still owns {owned.Count} resource(s); delete them first.");
        var active = (await tasks.QueryAsync(new TaskQuery { TenantId = tenantId, InFlight = true, Limit = 1000 }, ct)).Count;
        if (active > 0)
            return Problems.Result(ErrorCodes.TenantHasResources, $"Tenant '{tenantId}' has {active} task(s) in flight.");
        if (!await identities.PurgeTenantAsync(tenantId, http))
            return Problems.Result(ErrorCodes.Unavailable, "The token service could not remove the tenant's accounts; the tenant is kept, retry.");
        await store.DeleteAsync(tenantId, ct);
        return Results.NoContent();
    }

    private static string? Name(BodyFields fields) => fields.Text("name", required: false, value => TextRules.IsPrintable(value, 200), "1 to 200 printable characters");

    private static string? Status(BodyFields fields)
        => fields.Text("status", required: false, value => value is Tenant.Active or Tenant.Disabled, "active or disabled");
}
