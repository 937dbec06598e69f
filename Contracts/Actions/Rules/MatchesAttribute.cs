using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>
/// A string matched whole by <paramref name="rule"/>, written <c>^...$</c> as in <see cref="Identifiers"/>: it is matched here as
/// <c>\A...\z</c> (.NET's <c>$</c> lets a final newline through) and given to schemas as is (ECMA-262's <c>$</c> does not).
/// </summary>
public sealed class MatchesAttribute(string rule, string? message = null) : SchemaRuleAttribute(message ?? "must match " + rule)
{
    private readonly Regex _regex = new(@"\A" + rule[1..^1] + @"\z", RegexOptions.CultureInvariant);

    public string Rule { get; } = rule;

    public override bool IsValid(object? value) => value is null || value is string text && _regex.IsMatch(text);

    public override JsonObject SchemaKeywords => new() { ["pattern"] = Rule };
}
