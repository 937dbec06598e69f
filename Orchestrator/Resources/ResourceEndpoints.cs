using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Orchestrator.Tenants;

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
}
