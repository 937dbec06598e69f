using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>OpenSSH public keys, one per line (<c>ssh-...</c>, <c>ecdsa-...</c>, <c>sk-...</c>).</summary>
public sealed class SshKeysAttribute() : EachItemAttribute(32, "must be OpenSSH public keys on one line")
{
    protected override bool IsValidItem(string item) => TextRules.IsPrintable(item, 16384)
        && (item.StartsWith("ssh-", StringComparison.Ordinal) || item.StartsWith("ecdsa-", StringComparison.Ordinal) || item.StartsWith("sk-", StringComparison.Ordinal));

    protected override JsonObject ItemSchema => new() { ["type"] = "string", ["maxLength"] = 16384, ["pattern"] = "^(ssh-|ecdsa-|sk-)[^\\u0000-\\u001F\\u007F-\\u009F]*$" };
}

/// <summary>Package names as distributions spell them.</summary>
public sealed partial class PackageNamesAttribute() : EachItemAttribute(200, "must be package names")
{
    public const string Rule = "^[A-Za-z0-9][A-Za-z0-9.+_:~-]{0,127}$";

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9.+_:~-]{0,127}\z")]
    private static partial Regex PackagePattern();

    protected override bool IsValidItem(string item) => PackagePattern().IsMatch(item);

    protected override JsonObject ItemSchema => new() { ["type"] = "string", ["pattern"] = Rule };
}

/// <summary>Shell commands of at most 4096 printable characters (tabs allowed).</summary>
public sealed class CommandsAttribute() : EachItemAttribute(100, "must be commands of at most 4096 printable characters")
{
    protected override bool IsValidItem(string item) => TextRules.IsPrintable(item, 4096, tab: true);

    protected override JsonObject ItemSchema => new() { ["type"] = "string", ["minLength"] = 1, ["maxLength"] = 4096, ["pattern"] = "^[^\\u0000-\\u0008\\u000A-\\u001F\\u007F-\\u009F]+$" };
}

/// <summary>IPv4 or IPv6 addresses.</summary>
public sealed class IpAddressesAttribute() : EachItemAttribute(8, "must be IP addresses")
{
    protected override bool IsValidItem(string item) => IpAddressAttribute.IsAddress(item);

    protected override JsonObject ItemSchema => new() { ["type"] = "string", ["maxLength"] = 45 };
}
