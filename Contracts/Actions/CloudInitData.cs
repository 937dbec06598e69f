using System.ComponentModel;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.Contracts.Actions;

/// <summary>What cloud-init configures in a new VM.</summary>
public sealed record CloudInitData
{
    public const string HostnameRule = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
    public const string UserRule = "^[a-z_][a-z0-9_-]{0,31}$";
    public const string DefaultUser = "openhvx";

    [Matches(HostnameRule, "must be a host name (letters, digits, hyphens; at most 63)")]
    [Description("The guest's host name (default: the VM's name).")]
    public string? Hostname { get; init; }

    [Matches(UserRule, "must be a Linux user name")]
    [Description("The user created with the keys (default openhvx).")]
    public string? User { get; init; }

    [SshKeys]
    [Description("OpenSSH public keys authorized for the user.")]
    public IReadOnlyList<string>? SshAuthorizedKeys { get; init; }

    [PackageNames]
    [Description("Packages installed at first boot.")]
    public IReadOnlyList<string>? Packages { get; init; }

    [Commands]
    [Description("Commands run at first boot, in order.")]
    public IReadOnlyList<string>? Runcmd { get; init; }

    [Description("The first network interface (default DHCP).")]
    public NetworkData? Network { get; init; }
}
