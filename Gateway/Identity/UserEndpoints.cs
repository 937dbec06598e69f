using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenHvx.ServiceDefaults;
using OpenIddict.Abstractions;
using Oidc = OpenIddict.Abstractions.OpenIddictConstants;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Users and service clients, served by the gateway itself (it owns the identity store): admins manage any tenant's,
/// a tenant-admin creates users of its own tenant with tenant roles only. Removing or changing an account ends the
/// tokens it holds (<see cref="AccessRevocation"/>).
/// </summary>
public static class UserEndpoints
{
    public sealed record NewUser(string? Username, string? Password, string? TenantId, string[]? Roles);

    /// <summary>Each member present is a change; any change ends the tokens the user holds.</summary>
    public sealed record UserChange(bool? Disabled, string? Password, string[]? Roles);

    public sealed record NewClient(string? ClientId, string? TenantId, string[]? Roles);

    public sealed record UserView(string Username, string? TenantId, IReadOnlyList<string> Roles, bool Disabled, DateTimeOffset CreatedAt)
    {
        public static UserView From(GatewayUser user) => new(user.Username, user.TenantId, user.RoleList, user.Disabled, user.CreatedAt);
    }

    public sealed record ClientView(string ClientId, string? TenantId, IReadOnlyList<string> Roles);

    public static IEndpointRouteBuilder MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").RequireAuthorization(GatewayPolicies.Admin).RequireRateLimiting(GatewayRateLimits.ApiPolicy).WithTags("Users");
        admin.MapPost("/users", (HttpContext http, GatewayDbContext db, UserPasswords passwords, OrchestratorClient orchestrator, TimeProvider clock)
            => CreateAsync(http, db, passwords, orchestrator, clock, asTenantAdmin: null));
        admin.MapGet("/users", async (GatewayDbContext db, string? tenantId, CancellationToken ct) =>
            Results.Ok((await db.Users.AsNoTracking().Where(u => tenantId == null || u.TenantId == tenantId).OrderBy(u => u.Username).ToListAsync(ct)).Select(UserView.From)));
        admin.MapPatch("/users/{username}", ChangeAsync);
        admin.MapDelete("/users/{username}", DeleteAsync);
        admin.MapPost("/clients", CreateClientAsync);
        admin.MapGet("/clients", ListClientsAsync);
        admin.MapDelete("/clients/{clientId}", async (string clientId, AccessRevocation revocation, IOpenIddictApplicationManager applications, CancellationToken ct) =>
            FirstPartyClients.IsFirstParty(clientId.ToLowerInvariant()) && await IsPublicClientAsync(applications, clientId.ToLowerInvariant(), ct)
                ? Problems.Result(ErrorCodes.Forbidden, status: StatusCodes.Status409Conflict, detail: "OpenHvx's own clients are created by the gateway and cannot be removed.")
                : await revocation.RemoveClientAsync(clientId.ToLowerInvariant(), ct)
                    ? Results.NoContent()
                    : Problems.Result(ErrorCodes.NotFound, $"Client '{Printable(clientId)}' was not found."));
        // The orchestrator calls this (with the admin's own token) before it deletes a tenant.
        admin.MapDelete("/tenants/{tenantId}/identities", async (string tenantId, AccessRevocation revocation, CancellationToken ct) =>
        {
            if (!Identifiers.IsTenantId(tenantId))
                return Problems.Result(ErrorCodes.NotFound, "No such tenant.");
            var (users, clients) = await revocation.PurgeTenantAsync(tenantId, ct);
            return Results.Ok(new { tenantId, users, clients });
        });

        var tenant = app.MapGroup("/api/v1/tenant").RequireAuthorization(GatewayPolicies.TenantUsers).RequireRateLimiting(GatewayRateLimits.ApiPolicy).WithTags("Users");
        tenant.MapPost("/users", (HttpContext http, GatewayDbContext db, UserPasswords passwords, OrchestratorClient orchestrator, TimeProvider clock)
            => CreateAsync(http, db, passwords, orchestrator, clock, asTenantAdmin: http.User.FindFirstValue(TokenClaims.TenantId)));
        return app;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, GatewayDbContext db, UserPasswords passwords,
        OrchestratorClient orchestrator, TimeProvider clock, string? asTenantAdmin)
    {
        var (body, invalid) = await JsonBodies.ReadAsync<NewUser>(http);
        if (invalid is not null)
            return invalid;
        var errors = new Dictionary<string, string[]>();
        var username = body!.Username?.ToLowerInvariant() ?? "";
        if (!Identifiers.IsAccount(username))
            errors["username"] = ["must be 3 to 64 characters: lower-case letters, digits, '.', '_', '@', '-'"];
        CheckPassword(body.Password, errors);

        var tenantId = body.TenantId;
        if (asTenantAdmin is not null)
        {
            if (tenantId is not null && tenantId != asTenantAdmin)
                return Problems.Result(ErrorCodes.TenantMismatch, "'tenantId' differs from the tenant of your token.");
            tenantId = asTenantAdmin;
        }
        var (roles, forbidden) = CheckRoles(body.Roles, tenantId, asTenantAdmin is not null, errors);
        if (forbidden is not null)
            return forbidden;
        if (tenantId is not null && !Identifiers.IsTenantId(tenantId))
            errors["tenantId"] = ["must match " + Identifiers.TenantIdRule];
        if (errors.Count > 0)
            return Problems.Validation(errors);
        if (asTenantAdmin is not null && !await orchestrator.CallerTenantIsActiveAsync(http))
            return Problems.Result(ErrorCodes.TenantDisabled, $"Tenant '{asTenantAdmin}' is not active.");
        if (asTenantAdmin is null && tenantId is not null && !await orchestrator.TenantExistsAsync(tenantId, http))
            return Problems.Validation(new Dictionary<string, string[]> { ["tenantId"] = [$"tenant '{tenantId}' does not exist"] });

        var user = new GatewayUser { Username = username, PasswordHash = "", TenantId = tenantId, Roles = string.Join(' ', roles), CreatedAt = clock.GetUtcNow() };
        user.PasswordHash = passwords.Hash(user, body.Password!);
        if (await db.Users.AsNoTracking().AnyAsync(u => u.Username == username, http.RequestAborted))
            return Problems.Result(ErrorCodes.UserExists, $"User '{username}' exists.");
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(http.RequestAborted);
        }
        catch (DbUpdateException)
        {
            // Created by a concurrent request between the check and the insert.
            return Problems.Result(ErrorCodes.UserExists, $"User '{username}' exists.");
        }
        var prefix = asTenantAdmin is null ? "/api/v1/admin" : "/api/v1/tenant";
        return Results.Created($"{prefix}/users/{WebUtility.UrlEncode(username)}", UserView.From(user));
    }

    /// <summary>Disables or enables a user, sets a new password or new roles; whatever changed, the tokens the user holds end.</summary>
    private static async Task<IResult> ChangeAsync(string username, HttpContext http, GatewayDbContext db, UserPasswords passwords, AccessRevocation revocation)
    {
        var name = username.ToLowerInvariant();
        if (await db.Users.SingleOrDefaultAsync(u => u.Username == name, http.RequestAborted) is not { } user)
            return Problems.Result(ErrorCodes.NotFound, $"User '{Printable(username)}' was not found.");
        var (change, invalid) = await JsonBodies.ReadAsync<UserChange>(http);
        if (invalid is not null)
            return invalid;
        var errors = new Dictionary<string, string[]>();
        if (change!.Disabled is null && change.Password is null && change.Roles is null)
            errors["body"] = ["names at least one change: disabled, password or roles"];
        if (change.Password is not null)
            CheckPassword(change.Password, errors);
        var roles = change.Roles is null ? null : CheckRoles(change.Roles, user.TenantId, byTenantAdmin: false, errors).Roles;
        if (errors.Count > 0)
            return Problems.Validation(errors);
        if (name == AdminBootstrap.AdminUsername && (change.Disabled == true || roles is not null))
            return Problems.Result(ErrorCodes.Forbidden, "The bootstrap admin cannot be disabled or lose its role.", status: StatusCodes.Status409Conflict);

        if (change.Disabled is { } disabled)
            user.Disabled = disabled;
        if (change.Password is not null)
            user.PasswordHash = passwords.Hash(user, change.Password);
        if (roles is not null)
            user.Roles = string.Join(' ', roles);
        await db.SaveChangesAsync(http.RequestAborted);
        await revocation.RevokeSubjectAsync(user.Username, http.RequestAborted);
        return Results.Ok(UserView.From(user));
    }

    /// <summary>Removes the user and ends its tokens: refresh tokens fail from now on, access tokens within the revocation list's delay.</summary>
    private static async Task<IResult> DeleteAsync(string username, GatewayDbContext db, AccessRevocation revocation, CancellationToken ct)
    {
        var name = username.ToLowerInvariant();
        if (name == AdminBootstrap.AdminUsername)
            return Problems.Result(ErrorCodes.Forbidden, status: StatusCodes.Status409Conflict, detail: "The bootstrap admin cannot be removed.");
        var removed = await db.Users.Where(u => u.Username == name).ExecuteDeleteAsync(ct);
        if (removed == 0)
            return Problems.Result(ErrorCodes.NotFound, $"User '{Printable(username)}' was not found.");
        await revocation.RevokeSubjectAsync(name, ct);
        return Results.NoContent();
    }

    private static void CheckPassword(string? password, Dictionary<string, string[]> errors)
    {
        if (password is null || password.Length < UserPasswords.MinimumLength || password.Length > 256)
            errors["password"] = [$"must have {UserPasswords.MinimumLength} to 256 characters"];
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
            return (roles, Problems.Result(ErrorCodes.Forbidden, "A tenant-admin grants tenant roles only."));
        if (roles.Any(r => r != Roles.GlobalAdmin && !Roles.IsTenantRole(r)))
            errors["roles"] = [$"unknown role; roles are {Roles.GlobalAdmin}, {string.Join(", ", Roles.TenantRoles)}"];
        else if (roles.Contains(Roles.GlobalAdmin) && (roles.Count > 1 || tenantId is not null))
            errors["roles"] = ["global-admin stands alone and has no tenantId"];
        else if (!roles.Contains(Roles.GlobalAdmin) && tenantId is null)
            errors["tenantId"] = ["tenant roles need a tenantId"];
        return (roles, null);
    }

    /// <summary>A service account for <c>grant_type=client_credentials</c>; its secret is returned once.</summary>
    private static async Task<IResult> CreateClientAsync(HttpContext http, IOpenIddictApplicationManager applications, OrchestratorClient orchestrator)
    {
        var (body, invalid) = await JsonBodies.ReadAsync<NewClient>(http);
        if (invalid is not null)
            return invalid;
        var errors = new Dictionary<string, string[]>();
        var clientId = body!.ClientId?.ToLowerInvariant() ?? "";
        if (!Identifiers.IsAccount(clientId))
            errors["clientId"] = ["must be 3 to 64 characters: lower-case letters, digits, '.', '_', '@', '-'"];
        var (roles, _) = CheckRoles(body.Roles, body.TenantId, byTenantAdmin: false, errors);
        if (body.TenantId is not null && !Identifiers.IsTenantId(body.TenantId))
            errors["tenantId"] = ["must match " + Identifiers.TenantIdRule];
        if (errors.Count > 0)
            return Problems.Validation(errors);
        if (body.TenantId is not null && !await orchestrator.TenantExistsAsync(body.TenantId, http))
            return Problems.Validation(new Dictionary<string, string[]> { ["tenantId"] = [$"tenant '{body.TenantId}' does not exist"] });
        if (await applications.FindByClientIdAsync(clientId, http.RequestAborted) is not null)
            return Problems.Result(ErrorCodes.UserExists, $"Client '{clientId}' exists.");

        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).Replace('+', '-').Replace('/', '_').TrimEnd('=');
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = secret,
            ClientType = Oidc.ClientTypes.Confidential,
            DisplayName = clientId,
            Permissions =
            {
                Oidc.Permissions.Endpoints.Token, Oidc.Permissions.GrantTypes.ClientCredentials,
                Oidc.Permissions.Endpoints.Revocation, Oidc.Permissions.Endpoints.Introspection,
            },
        };
        foreach (var scope in Scopes.GrantedBy(roles))
            descriptor.Permissions.Add(Oidc.Permissions.Prefixes.Scope + scope);
        descriptor.Properties[TokenEndpoint.RolesProperty] = JsonSerializer.SerializeToElement(roles);
        if (body.TenantId is not null)
            descriptor.Properties[TokenEndpoint.TenantProperty] = JsonSerializer.SerializeToElement(body.TenantId);
        await applications.CreateAsync(descriptor, http.RequestAborted);
        return Results.Created($"/api/v1/admin/clients/{clientId}", new { clientId, clientSecret = secret, tenantId = body.TenantId, roles });
    }

    private static async Task<IResult> ListClientsAsync(IOpenIddictApplicationManager applications, string? tenantId, CancellationToken ct)
    {
        var clients = new List<ClientView>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, ct))
        {
            var client = await TokenEndpoint.ClientOfAsync(applications, application, ct);
            if (!FirstPartyClients.IsFirstParty(client.ClientId) && (tenantId is null || client.TenantId == tenantId))
                clients.Add(client);
        }
        return Results.Ok(clients.OrderBy(c => c.ClientId));
    }

    private static async Task<bool> IsPublicClientAsync(IOpenIddictApplicationManager applications, string clientId, CancellationToken ct)
        => await applications.FindByClientIdAsync(clientId, ct) is not { } application
            || await applications.GetClientTypeAsync(application, ct) == OpenIddict.Abstractions.OpenIddictConstants.ClientTypes.Public;

    /// <summary>A path value echoed in a message: only when it is short and printable.</summary>
    private static string Printable(string value) => value.Length <= 64 && value.All(c => c is >= ' ' and <= '~') ? value : "(unprintable)";
}
