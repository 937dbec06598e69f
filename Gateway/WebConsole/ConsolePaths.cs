namespace OpenHvx.Gateway.WebConsole;

/// <summary>Where the web console lives on the gateway, and the header its scripts send with every API call.</summary>
public static class ConsolePaths
{
    public const string Root = "/console";
    public const string SignIn = Root + "/signin";
    public const string Callback = "/" + Contracts.FirstPartyClients.ConsoleCallbackPath;
    public const string SignOut = Root + "/signout";
    public const string Session = Root + "/session";

    /// <summary>
    /// The console's requests carry this header. A page of another site cannot send it without a CORS preflight, which the
    /// gateway never grants, so the session cookie turns into a token only for the console's own scripts (CSRF).
    /// </summary>
    public const string RequestHeader = "X-OpenHvx-Console";

    /// <summary>The session cookie's authentication scheme; the cookie holds the tokens, encrypted, and is never readable by scripts.</summary>
    public const string Scheme = "console";
}
