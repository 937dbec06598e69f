using Microsoft.AspNetCore.Http;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Tenants;

/// <summary>
/// Tenant routes: a disabled (or deleted) tenant's users get 403 ERR_TENANT_DISABLED for every call; a token issued
/// before its tenant was created belongs to an earlier tenant of that id (401).
/// </summary>
public sealed class ActiveTenantFilter(ITenantStore tenants) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var tenantId = Caller.From(http.User).TenantId;
        var tenant = tenantId is null ? null : await tenants.GetAsync(tenantId, http.RequestAborted);
        if (tenant is null || tenant.Status != Tenant.Active)
            return Problems.Result(ErrorCodes.TenantDisabled, $"Tenant '{tenantId}' is not active.");
        if (Revocations.IssuedAt(http.User) is not { } issuedAt || issuedAt < tenant.CreatedAt.ToUnixTimeSeconds())
            return Problems.Result(ErrorCodes.Unauthenticated, "This token was issued before its tenant was created.");
        return await next(context);
    }
}
