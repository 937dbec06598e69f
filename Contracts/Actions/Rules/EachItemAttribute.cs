using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>A list of at most <see cref="MaxItems"/> one-line strings, each allowed by <see cref="IsValidItem"/>.</summary>
public abstract class EachItemAttribute(int maxItems, string message) : SchemaRuleAttribute($"{message} (at most {maxItems}, one line each)")
{
    public int MaxItems { get; } = maxItems;

    protected abstract bool IsValidItem(string item);

    /// <summary>The schema of one item.</summary>
    protected abstract JsonObject ItemSchema { get; }

    public override bool IsValid(object? value)
        => value is null || value is IReadOnlyCollection<string> items && items.Count <= MaxItems
            && items.All(item => item is not null && !item.Contains('\n') && !item.Contains('\r') && IsValidItem(item));

    public override JsonObject SchemaKeywords => new() { ["maxItems"] = MaxItems, ["items"] = ItemSchema };
}
