using Microsoft.Extensions.Options;
using OpenHvx.Contracts;

namespace OpenHvx.Gateway;

/// <summary>The audience a request's host implies (design/api.md, Audiences); null on hosts without a known prefix.</summary>
public sealed class HostAudiences(IOptions<GatewayOptions> options)
{
    public string? OfHost(string host)
    {
        var name = host.ToLowerInvariant();
        if (options.Value.AdminHostPrefixes.Any(p => name.StartsWith(p.ToLowerInvariant(), StringComparison.Ordinal)))
            return Audiences.Admin;
        if (options.Value.TenantHostPrefixes.Any(p => name.StartsWith(p.ToLowerInvariant(), StringComparison.Ordinal)))
            return Audiences.Tenant;
        return null;
    }

    /// <summary>The host decides where it can; elsewhere the path.</summary>
    public string? Expected(HttpContext http) => OfHost(http.Request.Host.Host) ?? Audiences.OfPath(http.Request.Path.Value ?? "");
}
