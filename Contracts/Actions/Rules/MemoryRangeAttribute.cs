using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>A <see cref="MemorySize"/> from 512 MB to 1 TB.</summary>
public sealed class MemoryRangeAttribute() : SchemaRuleAttribute("must be from 512 MB to 1 TB, " + MemorySize.Rule)
{
    public const long MinMB = 512;
    public const long MaxMB = 1024 * 1024;

    public override bool IsValid(object? value) => value is null || value is MemorySize { MegaBytes: >= MinMB and <= MaxMB };

    public override JsonObject SchemaKeywords => new()
    {
        ["oneOf"] = new JsonArray(
            new JsonObject { ["type"] = "string", ["pattern"] = MemorySize.Pattern, ["description"] = "512MB to 1TB", ["examples"] = new JsonArray("2GB", "512MB") },
            new JsonObject { ["type"] = "integer", ["minimum"] = MinMB, ["maximum"] = MaxMB, ["description"] = "MB" }),
    };
}
