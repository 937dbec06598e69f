using Microsoft.AspNetCore.Identity;

namespace OpenHvx.Gateway.Identity;

/// <summary>ASP.NET Core Identity's password hasher (PBKDF2, per-user salt, versioned format).</summary>
public sealed class UserPasswords
{
    public const int MinimumLength = 12;

    private readonly PasswordHasher<GatewayUser> _hasher = new();
    private readonly Lazy<GatewayUser> _nobody;

    public UserPasswords()
    {
        _nobody = new(() =>
        {
            var nobody = new GatewayUser { Username = "", PasswordHash = "", Roles = "" };
            nobody.PasswordHash = _hasher.HashPassword(nobody, Guid.NewGuid().ToString());
            return nobody;
        });
    }

    public string Hash(GatewayUser user, string password) => _hasher.HashPassword(user, password);

    /// <summary>False for a missing user too, after the same work as for a real one.</summary>
    public bool Verify(GatewayUser? user, string password)
    {
        var subject = user ?? _nobody.Value;
        var ok = _hasher.VerifyHashedPassword(subject, subject.PasswordHash, password) != PasswordVerificationResult.Failed;
        return ok && user is not null;
    }
}
