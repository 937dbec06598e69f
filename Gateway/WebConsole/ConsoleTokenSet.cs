using Microsoft.AspNetCore.Authentication;

namespace OpenHvx.Gateway.WebConsole;

/// <summary>The tokens of a console session, as kept in the session cookie's properties.</summary>
public sealed record ConsoleTokenSet(string AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt)
{
    private const string Access = "access_token";
    private const string Refresh = "refresh_token";
    private const string Expires = "expires_at";

    public static ConsoleTokenSet? From(AuthenticationProperties properties)
    {
        if (properties.GetTokenValue(Access) is not { Length: > 0 } access)
            return null;
        var expiresAt = DateTimeOffset.TryParse(properties.GetTokenValue(Expires), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : DateTimeOffset.MinValue;
        return new ConsoleTokenSet(access, properties.GetTokenValue(Refresh), expiresAt);
    }

    public void StoreIn(AuthenticationProperties properties)
    {
        List<AuthenticationToken> tokens =
        [
            new() { Name = Access, Value = AccessToken },
            new() { Name = Expires, Value = ExpiresAt.ToString("o", System.Globalization.CultureInfo.InvariantCulture) },
        ];
        if (RefreshToken is { Length: > 0 })
            tokens.Add(new() { Name = Refresh, Value = RefreshToken });
        properties.StoreTokens(tokens);
    }
}
