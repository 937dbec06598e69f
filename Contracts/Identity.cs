namespace OpenHvx.Contracts;

/// <summary>The two token audiences (design/api.md, Audiences): one per API surface.</summary>
public static class Audiences
{
    public const string Admin = "admin";
    public const string Tenant = "tenant";

    public static readonly IReadOnlyList<string> All = [Admin, Tenant];

    public static bool IsKnown(string? audience) => audience is Admin or Tenant;

    /// <summary>The audience a path implies: <c>/api/v1/admin/</c> or <c>/api/v1/tenant/</c>, else none.</summary>
    public static string? OfPath(string path)
        => path.StartsWith("/api/v1/admin/", StringComparison.OrdinalIgnoreCase) || path.Equals("/api/v1/admin", StringComparison.OrdinalIgnoreCase) ? Admin
        : path.StartsWith("/api/v1/tenant/", StringComparison.OrdinalIgnoreCase) || path.Equals("/api/v1/tenant", StringComparison.OrdinalIgnoreCase) ? Tenant
        : null;
}

public static class Roles
{
    public const string GlobalAdmin = "global-admin";
    public const string TenantAdmin = "tenant-admin";
    public const string TenantUserReadWrite = "tenant-user-rw";
    public const string TenantUserRead = "tenant-user-r";

    public static readonly IReadOnlyList<string> TenantRoles = [TenantAdmin, TenantUserReadWrite, TenantUserRead];
    public static readonly IReadOnlyList<string> TenantWriters = [TenantAdmin, TenantUserReadWrite];

    public static bool IsTenantRole(string role) => TenantRoles.Contains(role);
}

/// <summary>Scopes a token may carry; a role grants some of them, a client may ask for fewer.</summary>
public static class Scopes
{
    public const string Admin = "openhvx.admin";
    public const string Read = "openhvx.read";
    public const string Write = "openhvx.write";
    public const string Users = "openhvx.users";

    public static readonly IReadOnlyList<string> All = [Admin, Read, Write, Users];

    public static IReadOnlyList<string> GrantedBy(IEnumerable<string> roles)
    {
        var granted = new HashSet<string>();
        foreach (var role in roles)
        {
            switch (role)
            {
                case Roles.GlobalAdmin: granted.Add(Admin); break;
                case Roles.TenantAdmin: granted.UnionWith([Read, Write, Users]); break;
                case Roles.TenantUserReadWrite: granted.UnionWith([Read, Write]); break;
                case Roles.TenantUserRead: granted.Add(Read); break;
            }
        }
        return All.Where(granted.Contains).ToList();
    }
}

/// <summary>Claim names of our access tokens and the rules both the gateway and the orchestrator validate them by.</summary>
public static class TokenClaims
{
    public const string Subject = "sub";
    public const string TenantId = "tenant_id";
    public const string Role = "role";
    public const string Scope = "scope";

    /// <summary>Only RS256: an <c>alg: none</c> or HMAC token is refused whatever its signature.</summary>
    public static readonly IReadOnlyList<string> Algorithms = ["RS256"];

    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    /// <summary>The scopes of a token, whether its <c>scope</c> claim came as one space-separated value or several.</summary>
    public static IReadOnlySet<string> ScopesIn(IEnumerable<string> scopeClaimValues)
        => scopeClaimValues.SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet();
}
