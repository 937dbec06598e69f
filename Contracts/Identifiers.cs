using System.Text.RegularExpressions;

namespace OpenHvx.Contracts;

/// <summary>
/// The identifier rules of the whole system, defined once. Every pattern matches the whole value (<c>\A...\z</c>):
/// .NET's <c>$</c> also matches before a final newline, so <c>"tenant\n"</c> would pass a <c>^...$</c> pattern.
/// The <c>...Rule</c> texts are what error messages show.
/// </summary>
public static partial class Identifiers
{
    public const string TenantIdRule = "^[a-z0-9][a-z0-9_-]{0,62}$";
    public const string AgentIdRule = "^[A-Za-z0-9_-]{1,64}$";
    public const string VmNameRule = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$";
    public const string AccountRule = "^[a-z0-9][a-z0-9._@-]{2,63}$";
    public const string CatalogNameRule = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
    public const string ImageFileRule = "^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,200}\\.(vhdx|vhd)$";

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9_-]{0,62}\z")]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex AgentIdPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,62}\z")]
    private static partial Regex VmNamePattern();

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9._@-]{2,63}\z")]
    private static partial Regex AccountPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z")]
    private static partial Regex CatalogNamePattern();

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,200}\.(vhdx|vhd)\z", RegexOptions.IgnoreCase)]
    private static partial Regex ImageFilePattern();

    /// <summary>A tenant id: lower-case letters, digits, '_' and '-', at most 63.</summary>
    public static bool IsTenantId(string? value) => value is not null && TenantIdPattern().IsMatch(value);

    /// <summary>An agent id (also part of queue names and routing keys).</summary>
    public static bool IsAgentId(string? value) => value is not null && AgentIdPattern().IsMatch(value);

    /// <summary>A VM's name in its tenant's namespace.</summary>
    public static bool IsVmName(string? value) => value is not null && VmNamePattern().IsMatch(value);

    /// <summary>A username or service client id.</summary>
    public static bool IsAccount(string? value) => value is not null && AccountPattern().IsMatch(value);

    /// <summary>A catalog image id, name or version.</summary>
    public static bool IsCatalogName(string? value) => value is not null && CatalogNamePattern().IsMatch(value);

    /// <summary>A plain image file name in an agent's image folder.</summary>
    public static bool IsImageFile(string? value) => value is not null && ImageFilePattern().IsMatch(value);

    /// <summary>
    /// A task's (or any record's) GUID id, matched whole in its 36-character form: .NET's GUID parsers let white space around it through.
    /// </summary>
    public static bool TryParseId(string? value, out Guid id)
    {
        id = default;
        return value is { Length: 36 } && Guid.TryParseExact(value, "D", out id);
    }
}
