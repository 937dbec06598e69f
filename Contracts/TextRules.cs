namespace OpenHvx.Contracts;

/// <summary>Rules for free text (display names, commands): printable, bounded.</summary>
public static class TextRules
{
    /// <summary>1 to <paramref name="maxLength"/> characters with no control character (a tab only when <paramref name="tab"/>).</summary>
    public static bool IsPrintable(string? value, int maxLength, bool tab = false)
        => value is { Length: > 0 } && value.Length <= maxLength && !value.Any(c => char.IsControl(c) && !(tab && c == '\t'));
}
