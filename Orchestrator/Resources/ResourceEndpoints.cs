using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.ServiceDefaults;
using OpenHvx.Orchestrator.Quotas;

namespace OpenHvx.Orchestrator.Resources;

public static class ResourceEndpoints
{
    public static RouteGroupBuilder MapAdminResourceEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/tenants/{tenantId}/resources", async (string tenantId, ITenantStore tenants, IResourceStore resources, CancellationToken ct) =>
            await tenants.GetAsync(tenantId, ct) is null ? TenantEndpoints.NotFound(tenantId) : Results.Ok(await resources.ListAsync(tenantId, ct)))
            .WithTags("Resources");
        return admin;
    }

    /// <summary>The caller's own resources, without the agent that hosts them.</summary>
    public static RouteGroupBuilder MapTenantResourceEndpoints(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/resources", async (HttpContext http, IResourceStore resources, CancellationToken ct) =>
            Results.Ok((await resources.ListAsync(Tasks.Caller.From(http.User).TenantId!, ct))
                .Select(TenantResourceView.From)))
            .WithTags("Resources");
        // Another tenant's resource is "not found", like one that does not exist.
        tenant.MapGet("/resources/{resourceId}", async (string resourceId, HttpContext http, IResourceStore resources, CancellationToken ct) =>
            (await resources.ListAsync(Tasks.Caller.From(http.User).TenantId!, ct)).FirstOrDefault(r => r.ResourceId == resourceId) is { } resource
                ? Results.Ok(TenantResourceView.From(resource))
                : Problems.Result(Contracts.ErrorCodes.NotFound, $"Resource '{resourceId}' was not found."))
            .WithTags("Resources");
        return tenant;
    }
}

/// <summary>What a tenant reads of its resource: not the agent hosting it. A VM gone from its host shows <c>state: gone</c> and since when.</summary>
public sealed record TenantResourceView(string ResourceId, string TenantId, string Kind, string Name, Guid TaskId, DateTimeOffset CreatedAt, QuotaAmounts? Charge, string? ImageId,
    string State, DateTimeOffset? GoneAt)
{
    public static TenantResourceView From(TenantResource r) => new(r.ResourceId, r.TenantId, r.Kind, r.Name, r.TaskId, r.CreatedAt, r.Charge, r.ImageId, r.State, r.GoneAt);
}
