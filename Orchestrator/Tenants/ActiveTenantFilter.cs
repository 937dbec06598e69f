using Microsoft.AspNetCore.Http;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Orchestrator.Tenants;

/// <summary>Tenant routes: a disabled (or deleted) tenant's users get 403 ERR_TENANT_DISABLED for every call.</summary>
public sealed class ActiveTenantFilter(ITenantStore tenants) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var tenantId = Caller.From(http.User).TenantId;
        var tenant = tenantId is null ? null : await tenants.GetAsync(tenantId, http.RequestAborted);
        if (tenant is null || tenant.Status != Tenant.Active)
            return ApiProblems.Result(ErrorCodes.TenantDisabled, $"Tenant '{tenantId}' is not active.");
        return await next(context);
    }
}
