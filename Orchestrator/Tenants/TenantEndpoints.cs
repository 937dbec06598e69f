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
using OpenHvx.Orchestrator.Tasks;

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

    internal static IResult NotFound(string tenantId) => ApiProblems.Result(ErrorCodes.NotFound, $"Tenant '{tenantId}' was not found.");

    private static async Task<IResult> CreateAsync(HttpContext http, ITenantStore store)
    {
        var (body, invalid) = await JsonBody.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        JsonBody.RejectUnknown(body, CreateFields, errors);
        var tenantId = ReadString(body, "tenantId", errors, required: true);
        if (tenantId is not null && !TaskSubmission.TenantIdPattern().IsMatch(tenantId))
            errors.Add("tenantId", "must match ^[a-z0-9][a-z0-9_-]{0,62}$");
        var name = ReadString(body, "name", errors) ?? tenantId ?? "";
        var status = ReadStatus(body, errors) ?? Tenant.Active;
        var limits = body.TryGetProperty("limits", out var l) && l.ValueKind != JsonValueKind.Null ? QuotaLimits.Read(l, Unlimited, errors, "limits.") : Unlimited;
        if (errors.Any)
            return ApiProblems.Validation(errors.ToDictionary());

        var tenant = new Tenant(tenantId!, name, status, limits);
        if (!await store.TryCreateAsync(tenant, http.RequestAborted))
            return ApiProblems.Result(ErrorCodes.TenantExists, $"Tenant '{tenantId}' already exists.");
        return Results.Created($"/api/v1/admin/tenants/{tenantId}", tenant);
    }

    private static async Task<IResult> UpdateAsync(string tenantId, HttpContext http, ITenantStore store)
    {
        if (await store.GetAsync(tenantId, http.RequestAborted) is not { } tenant)
            return NotFound(tenantId);
        var (body, invalid) = await JsonBody.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        JsonBody.RejectUnknown(body, UpdateFields, errors);
        var name = ReadString(body, "name", errors) ?? tenant.Name;
        var status = ReadStatus(body, errors) ?? tenant.Status;
        var limits = body.TryGetProperty("limits", out var l) && l.ValueKind != JsonValueKind.Null ? QuotaLimits.Read(l, tenant.Limits, errors, "limits.") : tenant.Limits;
        if (errors.Any)
            return ApiProblems.Validation(errors.ToDictionary());
        var updated = tenant with { Name = name, Status = status, Limits = limits };
        await store.UpsertAsync(updated, http.RequestAborted);
        return Results.Ok(updated);
    }

    private static async Task<IResult> DeleteAsync(string tenantId, ITenantStore store, IResourceStore resources, ITaskStore tasks, CancellationToken ct)
    {
        if (await store.GetAsync(tenantId, ct) is null)
            return NotFound(tenantId);
        var owned = await resources.ListAsync(tenantId, ct);
        if (owned.Count > 0)
            return ApiProblems.Result(ErrorCodes.TenantHasResources, $"Tenant '{tenantId}' still owns {owned.Count} resource(s); delete them first.");
        var active = (await tasks.QueryAsync(new TaskQuery { TenantId = tenantId, Limit = 500 }, ct)).Count(t => t.CurrentState is not ("Succeeded" or "Failed"));
        if (active > 0)
            return ApiProblems.Result(ErrorCodes.TenantHasResources, $"Tenant '{tenantId}' has {active} task(s) in flight.");
        await store.DeleteAsync(tenantId, ct);
        return Results.NoContent();
    }

    private static string? ReadString(JsonElement body, string field, FieldErrors errors, bool required = false)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
                errors.Add(field, "is required");
            return null;
        }
        if (value.ValueKind != JsonValueKind.String || value.GetString()!.Length is 0 or > 200)
        {
            errors.Add(field, "must be a string of 1 to 200 characters");
            return null;
        }
        return value.GetString();
    }

    private static string? ReadStatus(JsonElement body, FieldErrors errors)
    {
        var status = ReadString(body, "status", errors);
        if (status is not (null or Tenant.Active or Tenant.Disabled))
        {
            errors.Add("status", "must be active or disabled");
            return null;
        }
        return status;
    }
}
