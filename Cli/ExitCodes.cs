namespace OpenHvx.Cli;

/// <summary>The exit codes scripts can rely on (also in <c>openhvx --help</c> and the README).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The task ended FAILED or CANCELED (with --wait, watch).</summary>
    public const int TaskFailed = 1;
    /// <summary>Usage or validation error: client-side, or 400/422 from the API.</summary>
    public const int Usage = 2;
    /// <summary>Not signed in, 401 or 403.</summary>
    public const int Auth = 3;
    public const int NotFound = 4;
    /// <summary>409: name taken, quota exceeded, resource locked...</summary>
    public const int Conflict = 5;
    /// <summary>5xx, 429 after retries, connection refused.</summary>
    public const int Unavailable = 6;
    /// <summary>--wait ran out of --timeout.</summary>
    public const int Timeout = 7;
    /// <summary>Ctrl+C (the shells' 128 + SIGINT).</summary>
    public const int Interrupted = 130;

    public const string Help = """
        Exit codes:
          0  ok
          1  the task ended FAILED or CANCELED (--wait, task watch)
          2  usage or validation error (caught here, or 400/422 from the API)
          3  not signed in, or 401/403
          4  not found (404)
          5  conflict (409: name taken, quota exceeded, resource locked...)
          6  the service is unavailable or unreachable (5xx, 429 after retries, connection refused)
          7  --wait ran out of --timeout
          130  interrupted (Ctrl+C)
        Environment: OPENHVX_URL and OPENHVX_TOKEN override the stored login (no refresh then);
        OPENHVX_CONFIG_DIR moves the credentials folder (default $XDG_CONFIG_HOME/openhvx or ~/.config/openhvx).
        """;
}
