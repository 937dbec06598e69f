using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>A record that must name at least one of its members (a change to make).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class AtLeastOneMemberAttribute(string message) : SchemaRuleAttribute(message)
{
    public override bool IsValid(object? value)
        => value is null || value.GetType().GetProperties().Any(p => p.GetIndexParameters().Length == 0 && p.GetValue(value) is not null);

    public override JsonObject SchemaKeywords => new() { ["minProperties"] = 1 };
}
