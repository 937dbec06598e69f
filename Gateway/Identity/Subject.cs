using OpenHvx.Contracts;
using OpenIddict.Abstractions;

namespace OpenHvx.Gateway.Identity;

/// <summary>Who a token is for: a user, or a service client (subject <c>client:&lt;id&gt;</c>), with its tenant and roles.</summary>
public sealed record Subject(string Id, string? TenantId, IReadOnlyList<string> Roles)
{
    public bool IsAdmin => TenantId is null;

    /// <summary>The only audience this subject's tokens may have.</summary>
    public string Audience => IsAdmin ? Audiences.Admin : Audiences.Tenant;

    /// <summary>The revocation keys that end this subject's tokens: its own, and its tenant's.</summary>
    public string[] RevocationKeys => TenantId is null ? [Revocations.SubjectKey(Id)] : [Revocations.SubjectKey(Id), Revocations.TenantKey(TenantId)];

    public static Subject Of(GatewayUser user) => new(user.Username, user.TenantId, user.RoleList);

    public static async Task<Subject> OfClientAsync(IOpenIddictApplicationManager applications, object application, CancellationToken cancellationToken)
    {
        var client = await TokenEndpoint.ClientOfAsync(applications, application, cancellationToken);
        return new Subject(AccessRevocation.ClientSubject(client.ClientId), client.TenantId, client.Roles);
    }
}
