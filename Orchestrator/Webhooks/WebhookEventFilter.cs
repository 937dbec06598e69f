using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// Which task events a webhook wants, as patterns of event types (<c>&lt;action&gt;.&lt;status&gt;</c>, like <c>vm.create.SUCCESS</c>):
/// <c>*</c> (every event), or <c>&lt;action&gt;.&lt;status&gt;</c> where the action part is a known action (<c>vm.create</c>), a family
/// of actions (<c>vm</c>: vm.create, vm.delete, ...) or <c>*</c>, and the status part is a known status (exactly as the API writes
/// it: <c>FAILED</c>, <c>running</c>) or <c>*</c>. So <c>*.FAILED</c>, <c>vm.*</c>, <c>vm.create.*</c>, <c>vm.FAILED</c>.
/// </summary>
public sealed class WebhookEventFilter
{
    public const int MaxPatterns = 20;
    public const int MaxPatternLength = 100;
    public const string Rule = "'*' or '<action|family|*>.<status|*>', like 'vm.create.SUCCESS', '*.FAILED' or 'vm.*'";

    private readonly IReadOnlyList<(string Action, string Status)> _patterns;

    private WebhookEventFilter(IReadOnlyList<(string Action, string Status)> patterns) => _patterns = patterns;

    /// <summary>The filter of stored (already validated) patterns; a pattern it cannot read matches nothing.</summary>
    public static WebhookEventFilter Of(IEnumerable<string> patterns)
        => new(patterns.Select(Split).Where(p => p is not null).Select(p => p!.Value).ToList());

    /// <summary>Null when <paramref name="pattern"/> is valid for these actions; otherwise why not.</summary>
    public static string? Check(string pattern, IEnumerable<string> knownActions)
    {
        if (pattern.Length is 0 or > MaxPatternLength)
            return $"must have 1 to {MaxPatternLength} characters";
        if (Split(pattern) is not var (action, status))
            return "must be " + Rule;
        if (status != "*" && !TaskStatuses.All.Contains(status))
            return $"names unknown status '{status}' (known: {string.Join(", ", TaskStatuses.All)})";
        if (action != "*" && !knownActions.Any(known => Covers(action, known)))
            return $"names unknown action '{action}' (known: {string.Join(", ", knownActions.Order(StringComparer.Ordinal))})";
        return null;
    }

    public bool Matches(string action, string status) => _patterns.Any(p => (p.Action == "*" || Covers(p.Action, action)) && (p.Status == "*" || p.Status == status));

    /// <summary>The action part and the status part (after the last dot); <c>*</c> alone is both.</summary>
    private static (string Action, string Status)? Split(string pattern)
    {
        if (pattern == "*")
            return ("*", "*");
        var dot = pattern.LastIndexOf('.');
        if (dot <= 0 || dot == pattern.Length - 1)
            return null;
        return (pattern[..dot], pattern[(dot + 1)..]);
    }

    /// <summary>An action, or a family of actions (<c>vm</c> covers <c>vm.create</c>), by whole dot-separated parts.</summary>
    private static bool Covers(string actionPattern, string action)
        => action == actionPattern || action.StartsWith(actionPattern + ".", StringComparison.Ordinal);
}
