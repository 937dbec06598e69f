using System.Text.RegularExpressions;

namespace OpenHvx.Contracts;

/// <summary>
/// The <c>Idempotency-Key</c> header: what a key may be, and the routes that honour one (a request with the same key and body is
/// answered for the same task, never run twice). The gateway sends such a request again to another orchestrator; no other.
/// </summary>
public static partial class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";

    public const int MaxLength = 200;

    /// <summary>A key as the orchestrator takes it: at most <see cref="MaxLength"/> printable characters (an empty one is no key).</summary>
    public static bool IsWellFormed(string key) => key.Length <= MaxLength && !key.Any(char.IsControl);

    /// <summary>True for a POST that claims <paramref name="key"/>: a task submission or a task's retry, with a non-empty, well-formed key.</summary>
    public static bool Honoured(string method, string path, string key)
        => key.Length > 0 && IsWellFormed(key) && string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase) && HonouringRoute().IsMatch(path);

    [GeneratedRegex(@"\A/api/v1/(admin|tenant)/tasks(/|/[^/]+/retry)?\z")]
    private static partial Regex HonouringRoute();
}
