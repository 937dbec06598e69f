using Microsoft.EntityFrameworkCore;
using OpenHvx.Contracts;
using OpenIddict.Abstractions;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// What removing or changing an account does to the tokens it holds: every refresh token is revoked in the store,
/// and every access token stops working through the revocation list (the gateway at once, the orchestrator at its
/// next poll), long before it expires.
/// </summary>
public sealed class AccessRevocation(GatewayDbContext db, IOpenIddictTokenManager tokens, IOpenIddictApplicationManager applications, RevocationList revocations)
{
    public static string ClientSubject(string clientId) => "client:" + clientId;

    /// <summary>Ends every token of <paramref name="subject"/> issued until now.</summary>
    public async Task RevokeSubjectAsync(string subject, CancellationToken cancellationToken)
    {
        // The stamp first: after it no token of the subject is issued, and what was issued before it is revoked in the store next.
        await revocations.RevokeAsync(db, [Revocations.SubjectKey(subject)], cancellationToken);
        await tokens.RevokeBySubjectAsync(subject, cancellationToken);
    }

    /// <summary>Removes a service client: its application (with its stored tokens) and every token issued to it.</summary>
    public async Task<bool> RemoveClientAsync(string clientId, CancellationToken cancellationToken)
    {
        if (await applications.FindByClientIdAsync(clientId, cancellationToken) is not { } application)
            return false;
        await RevokeSubjectAsync(ClientSubject(clientId), cancellationToken);
        await applications.DeleteAsync(application, cancellationToken);
        return true;
    }

    /// <summary>
    /// A deleted tenant leaves no account behind: its users and service clients are removed, their tokens revoked, and
    /// every token naming the tenant that was issued until now is refused, so a tenant created again under the same id
    /// starts with nobody.
    /// </summary>
    public async Task<(int Users, int Clients)> PurgeTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        var users = await db.Users.Where(u => u.TenantId == tenantId).Select(u => u.Username).ToListAsync(cancellationToken);
        var clients = new List<string>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, cancellationToken))
        {
            var client = await TokenEndpoint.ClientOfAsync(applications, application, cancellationToken);
            if (client.TenantId == tenantId)
                clients.Add(client.ClientId);
        }

        await revocations.RevokeAsync(db,
            [Revocations.TenantKey(tenantId), .. users.Select(Revocations.SubjectKey), .. clients.Select(c => Revocations.SubjectKey(ClientSubject(c)))],
            cancellationToken);
        await db.Users.Where(u => u.TenantId == tenantId).ExecuteDeleteAsync(cancellationToken);
        foreach (var user in users)
            await tokens.RevokeBySubjectAsync(user, cancellationToken);
        foreach (var clientId in clients)
        {
            if (await applications.FindByClientIdAsync(clientId, cancellationToken) is { } application)
                await applications.DeleteAsync(application, cancellationToken);
        }
        return (users.Count, clients.Count);
    }
}
