using Microsoft.EntityFrameworkCore;

namespace OpenHvx.Gateway.Identity;

/// <summary>The gateway's identity store: OpenIddict's applications and tokens, our users and the signing keys.</summary>
public sealed class GatewayDbContext(DbContextOptions<GatewayDbContext> options) : DbContext(options)
{
    public DbSet<GatewayUser> Users => Set<GatewayUser>();
    public DbSet<StoredKey> Keys => Set<StoredKey>();
    public DbSet<StoredSigningKey> SigningKeys => Set<StoredSigningKey>();
    public DbSet<StoredRevocation> Revocations => Set<StoredRevocation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<GatewayUser>(user =>
        {
            user.ToTable("users");
            user.HasKey(u => u.Username);
            user.HasIndex(u => u.TenantId);
        });
        modelBuilder.Entity<StoredKey>(key =>
        {
            key.ToTable("keys");
            key.HasKey(k => k.Use);
        });
        modelBuilder.Entity<StoredSigningKey>(key =>
        {
            key.ToTable("signing_keys");
            key.HasKey(k => k.KeyId);
        });
        modelBuilder.Entity<StoredRevocation>(revocation =>
        {
            revocation.ToTable("revocations");
            revocation.HasKey(r => r.Key);
            revocation.HasIndex(r => r.RevokedAt);
        });
    }
}

/// <summary>A person who signs in with a password. Admins have no tenant; tenant users have exactly one.</summary>
public sealed class GatewayUser
{
    public required string Username { get; set; }
    public required string PasswordHash { get; set; }
    public string? TenantId { get; set; }

    /// <summary>Space-separated roles.</summary>
    public required string Roles { get; set; }

    public bool Disabled { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    public IReadOnlyList<string> RoleList => Roles.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    public bool IsAdmin => TenantId is null;
}

/// <summary>
/// Key material kept across restarts: <c>encryption</c> (AES-256, for refresh tokens); <c>signing</c> only in stores of
/// earlier versions (moved to <see cref="StoredSigningKey"/> at start). Material is protected with Data Protection.
/// </summary>
public sealed class StoredKey
{
    public required string Use { get; set; }
    public required string KeyId { get; set; }
    public required string Material { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A subject or tenant whose tokens issued up to <see cref="RevokedAt"/> (Unix milliseconds; published as its second) no longer work.</summary>
public sealed class StoredRevocation
{
    public required string Key { get; set; }
    public long RevokedAt { get; set; }
}

/// <summary>
/// An RSA signing key (PKCS#8, protected with Data Protection); times in Unix seconds. It is published from its creation,
/// signs from <see cref="ActiveFrom"/> until its successor's turn (<see cref="RetiredAt"/>), and still validates the
/// tokens it signed until they have all expired.
/// </summary>
public sealed class StoredSigningKey
{
    public required string KeyId { get; set; }
    public required string Material { get; set; }
    public long CreatedAt { get; set; }
    public long ActiveFrom { get; set; }
    public long? RetiredAt { get; set; }
}
