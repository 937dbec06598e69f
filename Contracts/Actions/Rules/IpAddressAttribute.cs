using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>
/// An IP address, or with <paramref name="withPrefix"/> a host's address with its prefix length (<c>10.0.0.5/24</c>). An IPv4 address is a
/// dotted quad: .NET would also read "10.1" or "1" as one, which the agent's scripts refuse.
/// </summary>
public sealed class IpAddressAttribute(bool withPrefix = false)
    : SchemaRuleAttribute(withPrefix ? "must be an address with prefix, like 10.0.0.5/24" : "must be an IP address")
{
    public bool WithPrefix { get; } = withPrefix;

    public override bool IsValid(object? value) => value is null || value is string text && (WithPrefix ? IsAddressWithPrefix(text) : IsAddress(text));

    public static bool IsAddress(string text)
        => IPAddress.TryParse(text, out var address)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 ? text.Contains(':') : text.Count(c => c == '.') == 3 && text.All(c => c == '.' || char.IsAsciiDigit(c)));

    public static bool IsAddressWithPrefix(string text)
    {
        var slash = text.IndexOf('/');
        if (slash < 0 || !IsAddress(text[..slash]) || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
            return false;
        return prefix <= (IPAddress.Parse(text[..slash]).AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32);
    }

    public override JsonObject SchemaKeywords => new() { ["maxLength"] = 49, ["examples"] = new JsonArray(WithPrefix ? "10.0.0.5/24" : "10.0.0.1") };
}
