using System.Net;
using Microsoft.AspNetCore.Http;

namespace OpenHvx.Orchestrator.Security;

/// <summary>The token service's accounts, reached with the calling admin's own token (it authorizes the call itself).</summary>
public sealed class IdentityDirectory(IHttpClientFactory http)
{
    /// <summary>Removes the tenant's users and service clients and ends their tokens; false when the token service could not do it.</summary>
    public async Task<bool> PurgeTenantAsync(string tenantId, HttpContext caller)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/admin/tenants/{Uri.EscapeDataString(tenantId)}/identities");
            request.Headers.TryAddWithoutValidation("Authorization", caller.Request.Headers.Authorization.ToString());
            using var response = await http.CreateClient(TokenServicePoller.HttpClientName).SendAsync(request, caller.RequestAborted);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
