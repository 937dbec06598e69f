using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>Free text of 1 to <paramref name="maxLength"/> characters with no control character (<see cref="TextRules"/>).</summary>
public sealed class PrintableAttribute(int maxLength, string message) : SchemaRuleAttribute(message)
{
    /// <summary>No C0 or C1 control character and no DEL, as <see cref="TextRules.IsPrintable"/>.</summary>
    public const string Pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

    public int MaxLength { get; } = maxLength;

    public override bool IsValid(object? value) => value is null || value is string text && TextRules.IsPrintable(text, MaxLength);

    public override JsonObject SchemaKeywords => new() { ["minLength"] = 1, ["maxLength"] = MaxLength, ["pattern"] = Pattern };
}
