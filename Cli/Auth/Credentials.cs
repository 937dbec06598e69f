namespace OpenHvx.Cli.Auth;

/// <summary>A stored login: where, the token endpoint to refresh at, and the tokens.</summary>
public sealed record Credentials(string Url, string TokenEndpoint, string AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt);
