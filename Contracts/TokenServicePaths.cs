namespace OpenHvx.Contracts;

/// <summary>Where the token service (the gateway) serves what other services read from it.</summary>
public static class TokenServicePaths
{
    public const string Token = "/connect/token";
    public const string Discovery = "/.well-known/openid-configuration";
    public const string Jwks = "/.well-known/jwks";

    /// <summary>The revocation list (<see cref="Contracts.Revocations"/>).</summary>
    public const string Revocations = "/.well-known/openhvx-revocations";
}
