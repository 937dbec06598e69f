using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Creates the identity store and loads (or, the first time, creates and saves) the token keys, so that a token
/// issued before a restart still validates after it.
/// </summary>
public sealed class IdentityKeys(IServiceScopeFactory scopes, TimeProvider clock)
{
    private readonly Lazy<(RsaSecurityKey Signing, SymmetricSecurityKey Encryption)> _keys = new(() => Load(scopes, clock));

    public RsaSecurityKey SigningKey => _keys.Value.Signing;
    public SymmetricSecurityKey EncryptionKey => _keys.Value.Encryption;

    private static (RsaSecurityKey, SymmetricSecurityKey) Load(IServiceScopeFactory scopes, TimeProvider clock)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        EnsureCreated(db);

        var signing = GetOrCreate(db, clock, "signing", () =>
        {
            using var rsa = RSA.Create(2048);
            return Convert.ToBase64String(rsa.ExportPkcs8PrivateKey());
        });
        var rsaKey = RSA.Create();
        rsaKey.ImportPkcs8PrivateKey(Convert.FromBase64String(signing.Material), out _);

        var encryption = GetOrCreate(db, clock, "encryption", () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        return (new RsaSecurityKey(rsaKey) { KeyId = signing.KeyId },
                new SymmetricSecurityKey(Convert.FromBase64String(encryption.Material)) { KeyId = encryption.KeyId });
    }

    private static StoredKey GetOrCreate(GatewayDbContext db, TimeProvider clock, string use, Func<string> create)
    {
        if (db.Keys.AsNoTracking().SingleOrDefault(k => k.Use == use) is { } existing)
            return existing;
        var key = new StoredKey { Use = use, KeyId = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant(), Material = create(), CreatedAt = clock.GetUtcNow() };
        db.Keys.Add(key);
        try
        {
            db.SaveChanges();
            return key;
        }
        catch (DbUpdateException)
        {
            // Another gateway on the same store saved its key first: use that one.
            db.ChangeTracker.Clear();
            return db.Keys.AsNoTracking().Single(k => k.Use == use);
        }
    }

    private static void EnsureCreated(GatewayDbContext db)
    {
        var path = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } folder)
            Directory.CreateDirectory(folder);
        db.Database.EnsureCreated();
        db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
        // A store made by an earlier version gets what was added since (EnsureCreated only creates a new store).
        db.Database.ExecuteSqlRaw("""
            CREATE TABLE IF NOT EXISTS "revocations" ("Key" TEXT NOT NULL CONSTRAINT "PK_revocations" PRIMARY KEY, "RevokedAt" INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS "IX_revocations_RevokedAt" ON "revocations" ("RevokedAt");
            CREATE INDEX IF NOT EXISTS "IX_OpenIddictTokens_Status_ExpirationDate" ON "OpenIddictTokens" ("Status", "ExpirationDate");
            """);
    }
}

/// <summary>Hands the persisted keys to OpenIddict's server.</summary>
internal sealed class OpenIddictKeysSetup(IdentityKeys keys) : IConfigureOptions<OpenIddict.Server.OpenIddictServerOptions>
{
    public void Configure(OpenIddict.Server.OpenIddictServerOptions options)
    {
        options.SigningCredentials.Add(new SigningCredentials(keys.SigningKey, SecurityAlgorithms.RsaSha256));
        options.EncryptionCredentials.Add(new EncryptingCredentials(keys.EncryptionKey, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
    }
}
