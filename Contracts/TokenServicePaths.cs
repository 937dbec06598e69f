namespace OpenHvx.Contracts;

/// <summary>Where the token service (the gateway) serves what other services read from it.</summary>
public static class TokenServicePaths
{
    public const string Token = "/connect/token";
    public const string Discovery = "/.well-known/openid-configuration";
    public const string Jwks = "/.well-known/jwks";
    public const string Authorize = "/connect/authorize";
    public const string DeviceAuthorization = "/connect/device";
    public const string Verify = "/connect/verify";
    public const string Revoke = "/connect/revoke";
    public const string Introspect = "/connect/introspect";

    /// <summary>The revocation list (<see cref="Contracts.Revocations"/>).</summary>
    public const string Revocations = "/.well-known/openhvx-revocations";
}
