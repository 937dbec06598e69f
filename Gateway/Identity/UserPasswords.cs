using Microsoft.AspNetCore.Identity;

namespace OpenHvx.Gateway.Identity;

/// <summary>ASP.NET Core Identity's password hasher (PBKDF2, per-user salt, versioned format).</summary>
public sealed class UserPasswords
{
    public const int MinimumLength = 12;

    private readonly PasswordHasher<GatewayUser> _hasher = new();

    public string Hash(GatewayUser user, string password) => _hasher.HashPassword(user, password);

    public bool Verify(GatewayUser user, string password)
        => _hasher.VerifyHashedPassword(user, user.PasswordHash, password) != PasswordVerificationResult.Failed;
}
