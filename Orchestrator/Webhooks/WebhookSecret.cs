using System.Security.Cryptography;
using System.Text;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// Standard Webhooks secrets and signatures: a secret is <c>whsec_</c> + base64 of 24 to 64 random bytes; a message is signed as
/// <c>v1,</c> + base64(HMAC-SHA256(key: those bytes, message: <c>{webhook-id}.{webhook-timestamp}.{body}</c>)).
/// </summary>
public static class WebhookSecret
{
    public const string Prefix = "whsec_";
    public const int MinBytes = 24;
    public const int MaxBytes = 64;
    public const string Rule = "'whsec_' followed by the base64 of 24 to 64 random bytes";

    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The key bytes of a well-formed secret; null otherwise.</summary>
    public static byte[]? Key(string secret)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal))
            return null;
        var encoded = secret[Prefix.Length..];
        var buffer = new byte[encoded.Length];
        return Convert.TryFromBase64String(encoded, buffer, out var length) && length is >= MinBytes and <= MaxBytes ? buffer[..length] : null;
    }

    public static bool IsValid(string secret) => Key(secret) is not null;

    public static string Sign(string secret, string messageId, long timestamp, string body)
    {
        var key = Key(secret) ?? throw new ArgumentException("Not a webhook secret.", nameof(secret));
        var signature = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(signature);
    }

    /// <summary>What GET shows of a secret: enough to tell two apart, too little to sign with.</summary>
    public static string Hint(string secret) => Prefix + "…" + secret[^4..];
}
