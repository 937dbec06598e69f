using System.Net;
using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>An IP address, or with <paramref name="withPrefix"/> an address with its prefix length (<c>10.0.0.5/24</c>).</summary>
public sealed class IpAddressAttribute(bool withPrefix = false)
    : SchemaRuleAttribute(withPrefix ? "must be an address with prefix, like 10.0.0.5/24" : "must be an IP address")
{
    public bool WithPrefix { get; } = withPrefix;

    public override bool IsValid(object? value)
        => value is null || value is string text && (WithPrefix ? IPNetwork.TryParse(text, out _) : IPAddress.TryParse(text, out _));

    public override JsonObject SchemaKeywords => new() { ["maxLength"] = 49, ["examples"] = new JsonArray(WithPrefix ? "10.0.0.5/24" : "10.0.0.1") };
}
