using System.Text;
using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// What the CLI reads of its own access token, unverified (the API verifies it): the audience decides the routes
/// (<c>/api/v1/admin</c> or <c>/api/v1/tenant</c>), the expiry when to refresh.
/// </summary>
public sealed record JwtClaims(string? Audience, DateTimeOffset? ExpiresAt, string? Subject)
{
    public static JwtClaims Read(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
            return new(null, null, null);
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload += new string('=', (4 - payload.Length % 4) % 4);
            using var document = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            var root = document.RootElement;
            var audience = root.TryGetProperty("aud", out var aud)
                ? (aud.ValueKind == JsonValueKind.Array ? aud.EnumerateArray().Select(a => a.GetString()) : [aud.GetString()]).FirstOrDefault(Audiences.IsKnown)
                : null;
            DateTimeOffset? expires = root.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
            var subject = root.TryGetProperty("sub", out var sub) ? sub.GetString() : null;
            return new(audience, expires, subject);
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException)
        {
            return new(null, null, null);
        }
    }
}
