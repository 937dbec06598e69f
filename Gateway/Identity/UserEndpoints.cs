using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenIddict.Abstractions;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Users and service clients, served by the gateway itself (it owns the identity store): admins manage any tenant's,
/// a tenant-admin creates users of its own tenant with tenant roles only.
/// </summary>
public static partial class UserEndpoints
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._@-]{2,63}$")]
    private static partial Regex UsernamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}$")]
    private static partial Regex TenantIdPattern();

    public sealed record NewUser(string? Username, string? Password, string? TenantId, string[]? Roles);

    public sealed record NewClient(string? ClientId, string? TenantId, string[]? Roles);

    public sealed record UserView(string Username, string? TenantId, IReadOnlyList<string> Roles, DateTimeOffset CreatedAt)
    {
        public static UserView From(GatewayUser user) => new(user.Username, user.TenantId, user.RoleList, user.CreatedAt);
    }

    public static IEndpointRouteBuilder MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").RequireAuthorization(GatewayPolicies.Admin).RequireRateLimiting(GatewayRateLimits.ApiPolicy).WithTags("Users");
        admin.MapPost("/users", (NewUser body, HttpContext http, GatewayDbContext db, UserPasswords passwords, OrchestratorClient orchestrator, TimeProvider clock)
            => CreateAsync(body, http, db, passwords, orchestrator, clock, asTenantAdmin: null));
        admin.MapGet("/users", async (GatewayDbContext db, string? tenantId, CancellationToken ct) =>
            Results.Ok((await db.Users.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId).OrderBy(u => u.Username).ToListAsync(ct)).Select(UserView.From)));
        admin.MapDelete("/users/{username}", DeleteAsync);
        admin.MapPost("/clients", CreateClientAsync);

        var tenant = app.MapGroup("/api/v1/tenant").RequireAuthorization(GatewayPolicies.TenantUsers).RequireRateLimiting(GatewayRateLimits.ApiPolicy).WithTags("Users");
        tenant.MapPost("/users", (NewUser body, HttpContext http, GatewayDbContext db, UserPasswords passwords, OrchestratorClient orchestrator, TimeProvider clock)
            => CreateAsync(body, http, db, passwords, orchestrator, clock, asTenantAdmin: http.User.FindFirstValue(TokenClaims.TenantId)));
        return app;
    }

    private static async Task<IResult> CreateAsync(NewUser body, HttpContext http, GatewayDbContext db, UserPasswords passwords,
        OrchestratorClient orchestrator, TimeProvider clock, string? asTenantAdmin)
    {
        var errors = new Dictionary<string, string[]>();
        var username = body.Username?.Trim().ToLowerInvariant() ?? "";
        if (!UsernamePattern().IsMatch(username))
            errors["username"] = ["must be 3 to 64 characters: lower-case letters, digits, '.', '_', '@', '-'"];
        if (body.Password is null || body.Password.Length < UserPasswords.MinimumLength || body.Password.Length > 256)
            errors["password"] = [$"must have {UserPasswords.MinimumLength} to 256 characters"];

        var tenantId = body.TenantId;
        if (asTenantAdmin is not null)
        {
            if (tenantId is not null && tenantId != asTenantAdmin)
                return GatewayProblems.Result(StatusCodes.Status403Forbidden, ErrorCodes.TenantMismatch, "'tenantId' differs from the tenant of your token.");
            tenantId = asTenantAdmin;
        }
        var (roles, forbidden) = CheckRoles(body.Roles, tenantId, asTenantAdmin is not null, errors);
        if (forbidden is not null)
            return forbidden;
        if (tenantId is not null && !TenantIdPattern().IsMatch(tenantId))
            errors["tenantId"] = ["must match ^[a-z0-9][a-z0-9_-]{0,62}$"];
        if (errors.Count > 0)
            return GatewayProblems.Validation(errors);
        if (asTenantAdmin is not null && !await orchestrator.CallerTenantIsActiveAsync(http))
            return GatewayProblems.Result(StatusCodes.Status403Forbidden, ErrorCodes.TenantDisabled, $"Tenant '{asTenantAdmin}' is not active.");
        if (asTenantAdmin is null && tenantId is not null && !await orchestrator.TenantExistsAsync(tenantId, http))
            return GatewayProblems.Validation(new Dictionary<string, string[]> { ["tenantId"] = [$"tenant '{tenantId}' does not exist"] });

        var user = new GatewayUser { Username = username, PasswordHash = "", TenantId = tenantId, Roles = string.Join(' ', roles), CreatedAt = clock.GetUtcNow() };
        user.PasswordHash = passwords.Hash(user, body.Password!);
        if (await db.Users.AsNoTracking().AnyAsync(u => u.Username == username, http.RequestAborted))
            return GatewayProblems.Result(StatusCodes.Status409Conflict, ErrorCodes.UserExists, $"User '{username}' exists.");
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(http.RequestAborted);
        }
        catch (DbUpdateException)
        {
            // Created by a concurrent request between the check and the insert.
            return GatewayProblems.Result(StatusCodes.Status409Conflict, ErrorCodes.UserExists, $"User '{username}' exists.");
        }
        var prefix = asTenantAdmin is null ? "/api/v1/admin" : "/api/v1/tenant";
        return Results.Created($"{prefix}/users/{WebUtility.UrlEncode(username)}", UserView.From(user));
    }

    /// <summary>Admins are global-admin only and have no tenant; tenant users have tenant roles and a tenant.</summary>
    private static (IReadOnlyList<string> Roles, IResult? Forbidden) CheckRoles(string[]? requested, string? tenantId, bool byTenantAdmin, Dictionary<string, string[]> errors)
    {
        var roles = (requested ?? []).Distinct().ToList();
        if (roles.Count == 0)
        {
            errors["roles"] = ["at least one role is required"];
            return (roles, null);
        }
        if (byTenantAdmin && roles.Any(r => !Roles.IsTenantRole(r)))
            return (roles, GatewayProblems.Result(StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "A tenant-admin grants tenant roles only."));
        if (roles.Any(r => r != Roles.GlobalAdmin && !Roles.IsTenantRole(r)))
            errors["roles"] = [$"unknown role; roles are {Roles.GlobalAdmin}, {string.Join(", ", Roles.TenantRoles)}"];
        else if (roles.Contains(Roles.GlobalAdmin) && (roles.Count > 1 || tenantId is not null))
            errors["roles"] = ["global-admin stands alone and has no tenantId"];
        else if (!roles.Contains(Roles.GlobalAdmin) && tenantId is null)
            errors["tenantId"] = ["tenant roles need a tenantId"];
        return (roles, null);
    }

    /// <summary>Removes the user and revokes its tokens: a refresh token issued before fails from now on.</summary>
    private static async Task<IResult> DeleteAsync(string username, GatewayDbContext db, IOpenIddictTokenManager tokens, CancellationToken ct)
    {
        var name = username.ToLowerInvariant();
        if (name == AdminBootstrap.AdminUsername)
            return GatewayProblems.Result(StatusCodes.Status409Conflict, ErrorCodes.Forbidden, "The bootstrap admin cannot be removed.");
        var removed = await db.Users.Where(u => u.Username == name).ExecuteDeleteAsync(ct);
        if (removed == 0)
            return GatewayProblems.Result(StatusCodes.Status404NotFound, ErrorCodes.NotFound, $"User '{name}' was not found.");
        await tokens.RevokeBySubjectAsync(name, ct);
        return Results.NoContent();
    }

    /// <summary>A service account for <c>grant_type=client_credentials</c>; its secret is returned once.</summary>
    private static async Task<IResult> CreateClientAsync(NewClient body, HttpContext http, IOpenIddictApplicationManager applications, OrchestratorClient orchestrator)
    {
        var errors = new Dictionary<string, string[]>();
        var clientId = body.ClientId?.Trim().ToLowerInvariant() ?? "";
        if (!UsernamePattern().IsMatch(clientId))
            errors["clientId"] = ["must be 3 to 64 characters: lower-case letters, digits, '.', '_', '@', '-'"];
        var (roles, _) = CheckRoles(body.Roles, body.TenantId, byTenantAdmin: false, errors);
        if (errors.Count > 0)
            return GatewayProblems.Validation(errors);
        if (body.TenantId is not null && !await orchestrator.TenantExistsAsync(body.TenantId, http))
            return GatewayProblems.Validation(new Dictionary<string, string[]> { ["tenantId"] = [$"tenant '{body.TenantId}' does not exist"] });
        if (await applications.FindByClientIdAsync(clientId, http.RequestAborted) is not null)
            return GatewayProblems.Result(StatusCodes.Status409Conflict, ErrorCodes.UserExists, $"Client '{clientId}' exists.");

        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).Replace('+', '-').Replace('/', '_').TrimEnd('=');
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = secret,
            ClientType = Oidc.ClientTypes.Confidential,
            DisplayName = clientId,
            Permissions = { Oidc.Permissions.Endpoints.Token, Oidc.Permissions.GrantTypes.ClientCredentials },
        };
        foreach (var scope in Scopes.GrantedBy(roles))
            descriptor.Permissions.Add(Oidc.Permissions.Prefixes.Scope + scope);
        descriptor.Properties[TokenEndpoint.RolesProperty] = JsonSerializer.SerializeToElement(roles);
        if (body.TenantId is not null)
            descriptor.Properties[TokenEndpoint.TenantProperty] = JsonSerializer.SerializeToElement(body.TenantId);
        await applications.CreateAsync(descriptor, http.RequestAborted);
        return Results.Created($"/api/v1/admin/clients/{clientId}", new { clientId, clientSecret = secret, tenantId = body.TenantId, roles });
    }
}
