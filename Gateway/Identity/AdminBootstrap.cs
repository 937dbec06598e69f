using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The first admin (user <c>admin</c>) comes from configuration, never from an open endpoint. With no password
/// configured, DevHost generates one and prints it once; a production gateway refuses to start.
/// </summary>
internal sealed class AdminBootstrap(IServiceScopeFactory scopes, IdentityKeys keys, UserPasswords passwords, IOptions<GatewayOptions> options,
    TimeProvider clock, ILogger<AdminBootstrap> logger) : IHostedService
{
    public const string AdminUsername = "admin";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = keys.SigningKey; // creates the store and the keys before the first request
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        if (await db.Users.AnyAsync(u => u.Username == AdminUsername, cancellationToken))
            return;

        var password = options.Value.AdminPassword;
        var generated = false;
        if (string.IsNullOrEmpty(password))
        {
            if (!options.Value.GenerateAdminPassword)
                throw new InvalidOperationException("Set OPENHVX_ADMIN_PASSWORD (Gateway:AdminPassword): the bootstrap admin has no password yet.");
            password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
            generated = true;
        }
        else if (password.Length < UserPasswords.MinimumLength)
        {
            throw new InvalidOperationException($"OPENHVX_ADMIN_PASSWORD must have at least {UserPasswords.MinimumLength} characters.");
        }

        var admin = new GatewayUser { Username = AdminUsername, PasswordHash = "", Roles = Roles.GlobalAdmin, CreatedAt = clock.GetUtcNow() };
        admin.PasswordHash = passwords.Hash(admin, password);
        db.Users.Add(admin);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            return; // another gateway on the same store created it
        }
        if (generated)
        {
            // Printed to the console only, once: it is not stored anywhere but as a hash.
            Console.WriteLine($"""

                The bootstrap admin was created: user '{AdminUsername}', password '{password}'
                (shown once; set OPENHVX_ADMIN_PASSWORD to choose it).

                """);
        }
        logger.LogInformation("Bootstrap admin '{User}' created", AdminUsername);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
