namespace OpenHvx.Gateway.Identity;

/// <summary>Why a token is not issued: an OAuth error code (RFC 6749, 5.2 and its extensions) and a description for the client.</summary>
public sealed record GrantRefusal(string Error, string Description);
