using System.Collections.Frozen;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;

namespace OpenHvx.Contracts;

/// <summary>
/// Access tokens that must stop working before they expire. The token service publishes the list at
/// <see cref="TokenServicePaths.Revocations"/>; the gateway and the orchestrator refuse every token it names. An entry names a subject,
/// a tenant or one token (by OpenIddict's token id, <c>oi_tkn_id</c>), and the time of the revocation: a token
/// issued at or before that second is refused. Keys are published as SHA-256 hashes, so the list names nobody.
/// </summary>
public static class Revocations
{
    /// <summary>The token entry id OpenIddict puts in every access token it issues.</summary>
    public const string TokenIdClaim = "oi_tkn_id";

    public static string SubjectKey(string subject) => "sub:" + subject;
    public static string TenantKey(string tenantId) => "tenant:" + tenantId;
    public static string TokenKey(string tokenId) => "tkn:" + tokenId;

    /// <summary>Every key a token can be revoked by: its subject, its tenant and its own entry.</summary>
    public static IEnumerable<string> KeysOf(ClaimsPrincipal principal)
    {
        if (principal.FindFirst(TokenClaims.Subject)?.Value is { } subject)
            yield return SubjectKey(subject);
        if (principal.FindFirst(TokenClaims.TenantId)?.Value is { } tenant)
            yield return TenantKey(tenant);
        if (principal.FindFirst(TokenIdClaim)?.Value is { } token)
            yield return TokenKey(token);
    }

    /// <summary>When the token was issued (<c>iat</c>), in Unix seconds; null when it does not say.</summary>
    public static long? IssuedAt(ClaimsPrincipal principal)
        => long.TryParse(principal.FindFirst("iat")?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var iat) ? iat : null;

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>One published revocation: the hash of its key, and the Unix second up to which tokens are refused.</summary>
public sealed record RevocationEntry(string Key, long RevokedAt);

/// <summary>The published list (<see cref="TokenServicePaths.Revocations"/>).</summary>
public sealed record RevocationFeed(DateTimeOffset GeneratedAt, IReadOnlyList<RevocationEntry> Entries);

/// <summary>A snapshot of the list to check tokens against (immutable; swapped whole when the list changes).</summary>
public sealed class RevocationSet
{
    private readonly FrozenDictionary<string, long> _revokedAt;

    public static readonly RevocationSet Empty = new([]);

    public RevocationSet(IEnumerable<RevocationEntry> entries)
        => _revokedAt = entries.GroupBy(e => e.Key).ToFrozenDictionary(g => g.Key, g => g.Max(e => e.RevokedAt));

    public int Count => _revokedAt.Count;

    /// <summary>When <paramref name="key"/> (not hashed) was last revoked, in Unix seconds; null when it never was.</summary>
    public long? RevokedAt(string key) => _revokedAt.TryGetValue(Revocations.Hash(key), out var at) ? at : null;

    /// <summary>True when a key of the token was revoked at or after the second it was issued in (or it does not say when).</summary>
    public bool IsRevoked(ClaimsPrincipal principal)
    {
        if (_revokedAt.Count == 0)
            return false;
        var issuedAt = Revocations.IssuedAt(principal) ?? 0;
        foreach (var key in Revocations.KeysOf(principal))
        {
            if (_revokedAt.TryGetValue(Revocations.Hash(key), out var revokedAt) && revokedAt >= issuedAt)
                return true;
        }
        return false;
    }
}
