using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenHvx.Contracts;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// The token keys, kept in the identity store so that tokens survive restarts, and encrypted there with ASP.NET Core Data
/// Protection, whose key ring lives apart from the store (<see cref="GatewayOptions.KeyRingPath"/>): a copy of the store
/// alone yields no key. <see cref="RotateAsync"/> adds a signing key that is published at once and signs after
/// <see cref="GatewayOptions.SigningKeyLead"/> (so that every validator knows it first); the key it replaces keeps
/// validating, and stays in the JWKS, until every token it signed (refresh tokens included) has expired.
/// </summary>
public sealed class IdentityKeys(IServiceScopeFactory scopes, TimeProvider clock, IDataProtectionProvider protection, IOptions<GatewayOptions> options,
    IOptionsMonitorCache<OpenIddict.Server.OpenIddictServerOptions> openIddict, ILogger<IdentityKeys> logger)
{
    private const string ProtectedPrefix = "dp1:";
    private static readonly TimeSpan ReloadAtMost = TimeSpan.FromSeconds(10);

    private readonly IDataProtector _protector = protection.CreateProtector("OpenHvx.Gateway.IdentityKeys");
    private readonly Lock _gate = new();
    private KeyRing? _ring;
    private DateTimeOffset _loadedAt;

    private sealed record KeyRing(IReadOnlyList<(RsaSecurityKey Key, long ActiveFrom)> Signing, SymmetricSecurityKey Encryption)
    {
        /// <summary>The key whose turn it is: the latest one active at <paramref name="now"/> (Unix seconds).</summary>
        public RsaSecurityKey SigningAt(long now)
            => Signing.Where(k => k.ActiveFrom <= now).OrderByDescending(k => k.ActiveFrom).Select(k => k.Key).FirstOrDefault() ?? Signing[^1].Key;
    }

    /// <summary>The key that signs new tokens now.</summary>
    public RsaSecurityKey SigningKey => Ring.SigningAt(clock.GetUtcNow().ToUnixTimeSeconds());

    /// <summary>Every key a token of ours may be signed with (the one signing first), as published in the JWKS.</summary>
    public IReadOnlyList<RsaSecurityKey> ValidationKeys
    {
        get
        {
            var signing = SigningKey;
            return [signing, .. Ring.Signing.Select(k => k.Key).Where(k => k != signing)];
        }
    }

    private string? _signingInOpenIddict;

    /// <summary>
    /// Reads the keys again (a rotation by another gateway on this store) and, when the key whose turn it is differs from
    /// the one OpenIddict signs with, has OpenIddict take the new order. Called periodically.
    /// </summary>
    public void Refresh()
    {
        var reloaded = false;
        lock (_gate)
        {
            if (_ring is null || StoredKeysSignature() != _ringSignature)
            {
                _ring = Load();
                reloaded = true;
            }
        }
        var signing = SigningKey.KeyId;
        if (!reloaded && signing == _signingInOpenIddict)
            return;
        // OpenIddict builds its options once: dropping them makes it take the keys again, in their new order.
        openIddict.TryRemove(Microsoft.Extensions.Options.Options.DefaultName);
        if (_signingInOpenIddict is not null && signing != _signingInOpenIddict)
            logger.LogInformation("Signing key {KeyId} signs from now on", signing);
        _signingInOpenIddict = signing;
    }

    public SymmetricSecurityKey EncryptionKey => Ring.Encryption;

    private KeyRing Ring
    {
        get
        {
            lock (_gate)
                return _ring ??= Load();
        }
    }

    /// <summary>The validation keys for a token's <c>kid</c>; one not known yet (another gateway on this store rotated) reloads the store first.</summary>
    public IEnumerable<SecurityKey> ResolveValidationKeys(string? keyId)
    {
        var ring = Ring;
        if (keyId is not null && ring.Signing.All(k => k.Key.KeyId != keyId) && clock.GetUtcNow() - _loadedAt > ReloadAtMost)
        {
            lock (_gate)
                ring = _ring = Load();
        }
        return ring.Signing.Select(k => k.Key);
    }

    /// <summary>
    /// Adds a signing key, published now and signing from <paramref name="activeFrom"/>; the keys signing until then retire
    /// at that time. <paramref name="dropRetired"/> (a compromised key) removes them at once instead: every token they signed
    /// stops working. Keys retired long enough ago that no token of theirs is alive are removed.
    /// </summary>
    public async Task<(string KeyId, DateTimeOffset SignsFrom)> RotateAsync(bool immediately, CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        var now = clock.GetUtcNow();
        var activeFrom = immediately ? now : now + options.Value.SigningKeyLead;
        // A retired key goes once nothing it signed can still be presented: access tokens, and refresh tokens (signed too).
        var longest = options.Value.LongestAccessTokenLifetime > options.Value.RefreshTokenLifetime ? options.Value.LongestAccessTokenLifetime : options.Value.RefreshTokenLifetime;
        var horizon = (now - longest - TokenClaims.ClockSkew).ToUnixTimeSeconds();
        var key = NewSigningKey(now, activeFrom);
        // One transaction: a reader never sees the store without a signing key (it would make one).
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            if (immediately)
                await db.SigningKeys.ExecuteDeleteAsync(cancellationToken);
            else
                await db.SigningKeys.Where(k => k.RetiredAt != null && k.RetiredAt < horizon).ExecuteDeleteAsync(cancellationToken);
            await db.SigningKeys.Where(k => k.RetiredAt == null).ExecuteUpdateAsync(k => k.SetProperty(x => x.RetiredAt, activeFrom.ToUnixTimeSeconds()), cancellationToken);
            db.SigningKeys.Add(key);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        Refresh();
        logger.LogInformation("Signing key {KeyId} added; it signs from {ActiveFrom:O}{Dropped}", key.KeyId, activeFrom, immediately ? ", earlier keys were dropped" : "");
        return (key.KeyId, DateTimeOffset.FromUnixTimeSeconds(key.ActiveFrom));
    }

    private string? _ringSignature;

    /// <summary>What the store holds of the signing keys, without decrypting any: a change means a reload.</summary>
    private string StoredKeysSignature()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        return string.Join(';', db.SigningKeys.AsNoTracking().OrderBy(k => k.KeyId).Select(k => k.KeyId + ":" + k.ActiveFrom + ":" + k.RetiredAt).ToList());
    }

    private KeyRing Load()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        EnsureCreated(db);
        var now = clock.GetUtcNow();
        ReplacePlainTextKeys(db);
        if (!db.SigningKeys.Any())
        {
            db.SigningKeys.Add(NewSigningKey(now, now));
            TrySave(db);
        }
        var signing = db.SigningKeys.AsNoTracking().OrderByDescending(k => k.ActiveFrom).ToList()
            .Select(k => (ToRsa(k.KeyId, Unprotect(k.Material, $"signing key {k.KeyId}")), k.ActiveFrom)).ToList();

        var encryption = db.Keys.AsNoTracking().SingleOrDefault(k => k.Use == "encryption");
        if (encryption is null)
        {
            encryption = new StoredKey { Use = "encryption", KeyId = NewKeyId(), Material = Protect(RandomNumberGenerator.GetBytes(32)), CreatedAt = now };
            db.Keys.Add(encryption);
            TrySave(db);
            encryption = db.Keys.AsNoTracking().Single(k => k.Use == "encryption");
        }
        var aes = Unprotect(encryption.Material, "refresh-token encryption key");
        _loadedAt = now;
        _ringSignature = string.Join(';', db.SigningKeys.AsNoTracking().OrderBy(k => k.KeyId).Select(k => k.KeyId + ":" + k.ActiveFrom + ":" + k.RetiredAt).ToList());
        return new KeyRing(signing, new SymmetricSecurityKey(aes) { KeyId = encryption.KeyId });
    }

    /// <summary>
    /// A store of an earlier version kept its keys in plain text in a file others could read: they are treated as known to
    /// others. They are dropped (every token they signed stops working: users sign in again; refresh tokens end too), new
    /// keys are made, and the file is rewritten without the freed pages, so no later copy of it holds the old keys.
    /// </summary>
    private void ReplacePlainTextKeys(GatewayDbContext db)
    {
        var plainSigning = db.SigningKeys.AsEnumerable().Where(k => !k.Material.StartsWith(ProtectedPrefix, StringComparison.Ordinal)).ToList();
        var plainOther = db.Keys.AsEnumerable().Where(k => k.Use == "signing" || !k.Material.StartsWith(ProtectedPrefix, StringComparison.Ordinal)).ToList();
        if (plainSigning.Count == 0 && plainOther.Count == 0)
            return;
        db.SigningKeys.RemoveRange(plainSigning);
        db.Keys.RemoveRange(plainOther);
        db.SaveChanges();
        db.Database.ExecuteSqlRaw("PRAGMA secure_delete=ON; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
        logger.LogWarning("The identity store held {Count} key(s) in plain text (an earlier version): they were dropped and new, encrypted keys made; " +
            "tokens issued before are no longer valid, users sign in again", plainSigning.Count + plainOther.Count);
    }

    private StoredSigningKey NewSigningKey(DateTimeOffset now, DateTimeOffset activeFrom)
    {
        using var rsa = RSA.Create(2048);
        return new StoredSigningKey
        {
            KeyId = NewKeyId(), Material = Protect(rsa.ExportPkcs8PrivateKey()), CreatedAt = now.ToUnixTimeSeconds(), ActiveFrom = activeFrom.ToUnixTimeSeconds(),
        };
    }

    private string Protect(byte[] material) => ProtectedPrefix + Convert.ToBase64String(_protector.Protect(material));

    private byte[] Unprotect(string material, string what)
    {
        try
        {
            return _protector.Unprotect(Convert.FromBase64String(material[ProtectedPrefix.Length..]));
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException(
                $"The {what} in the identity store cannot be decrypted: the Data Protection key ring at '{options.Value.KeyRingDirectory}' is missing or is " +
                "not the one that encrypted it (restore it with the store, or configure Gateway:KeyRingPath).", ex);
        }
    }

    private static void TrySave(GatewayDbContext db)
    {
        try
        {
            db.SaveChanges();
        }
        catch (DbUpdateException)
        {
            // Another gateway on the same store wrote first: use what it wrote.
            db.ChangeTracker.Clear();
        }
    }

    private static RsaSecurityKey ToRsa(string keyId, byte[] pkcs8)
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        return new RsaSecurityKey(rsa) { KeyId = keyId };
    }

    private static string NewKeyId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();

    private static void EnsureCreated(GatewayDbContext db)
    {
        var path = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        PrivateFiles.EnsureOwnerOnlyFile(path);
        db.Database.EnsureCreated();
        db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
        // A store made by an earlier version gets what was added since (EnsureCreated only creates a new store).
        db.Database.ExecuteSqlRaw("""
            CREATE TABLE IF NOT EXISTS "revocations" ("Key" TEXT NOT NULL CONSTRAINT "PK_revocations" PRIMARY KEY, "RevokedAt" INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS "IX_revocations_RevokedAt" ON "revocations" ("RevokedAt");
            CREATE INDEX IF NOT EXISTS "IX_OpenIddictTokens_Status_ExpirationDate" ON "OpenIddictTokens" ("Status", "ExpirationDate");
            CREATE TABLE IF NOT EXISTS "signing_keys" ("KeyId" TEXT NOT NULL CONSTRAINT "PK_signing_keys" PRIMARY KEY, "Material" TEXT NOT NULL,
                "CreatedAt" INTEGER NOT NULL, "ActiveFrom" INTEGER NOT NULL, "RetiredAt" INTEGER NULL);
            """);
    }
}

/// <summary>Hands the persisted keys to OpenIddict's server: it signs with the first (the one whose turn it is) and publishes all.</summary>
internal sealed class OpenIddictKeysSetup(IdentityKeys keys) : IConfigureOptions<OpenIddict.Server.OpenIddictServerOptions>
{
    public void Configure(OpenIddict.Server.OpenIddictServerOptions options)
    {
        foreach (var key in keys.ValidationKeys)
            options.SigningCredentials.Add(new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
        options.EncryptionCredentials.Add(new EncryptingCredentials(keys.EncryptionKey, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
    }
}
