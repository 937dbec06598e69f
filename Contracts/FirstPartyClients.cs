namespace OpenHvx.Contracts;

/// <summary>
/// The public OAuth clients of OpenHvx's own tools, which the gateway creates at start. They have no secret: the CLI uses the
/// device authorization grant, the password grant or the authorization code with PKCE and a loopback redirect (RFC 8252);
/// the web console the authorization code with PKCE.
/// </summary>
public static class FirstPartyClients
{
    public const string Cli = "openhvx-cli";
    public const string Console = "openhvx-console";

    /// <summary>The CLI's loopback redirect URIs; any port is accepted at request time (RFC 8252, 7.3).</summary>
    public static readonly IReadOnlyList<string> CliRedirectUris = ["http://127.0.0.1/callback", "http://[::1]/callback"];

    /// <summary>The console's redirect URI, relative to the issuer.</summary>
    public const string ConsoleCallbackPath = "console/callback";

    public static bool IsFirstParty(string? clientId) => clientId is Cli or Console;
}
