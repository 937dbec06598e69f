using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// Which addresses a webhook may reach: not the orchestrator's own host, its networks or its cloud's metadata service (server-side
/// request forgery), unless an operator allows a network (<see cref="WebhookOptions.AllowedNetworks"/>). Checked when a webhook is
/// created (its host, resolved) and again at each delivery on the address actually connected to (a name that resolves elsewhere
/// later is caught too).
/// </summary>
public sealed class WebhookAddressPolicy
{
    private static readonly IReadOnlyList<(IPNetwork Network, string Kind)> Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "shared (CGNAT)"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local (cloud metadata)"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.0.0.0/24"), "reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("198.18.0.0/15"), "reserved"),
        // Azure's platform endpoint (metadata, DNS, health) is a public address.
        (IPNetwork.Parse("168.63.129.16/32"), "cloud metadata"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        // IPv4-compatible (deprecated) and IPv4-translated forms: whatever IPv4 address they carry, they are no public IPv6 host.
        (IPNetwork.Parse("::/96"), "IPv4-compatible"),
        (IPNetwork.Parse("::ffff:0:0:0/96"), "IPv4-translated"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "reserved"),
        (IPNetwork.Parse("fc00::/7"), "private (unique local)"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("fec0::/10"), "site-local"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    private readonly IReadOnlyList<IPNetwork> _allowed;

    public WebhookAddressPolicy(IEnumerable<string> allowedNetworks)
        => _allowed = allowedNetworks.Select(n => IPNetwork.TryParse(n.Trim(), out var network)
            ? network
            : throw new OptionsValidationException(WebhookOptions.Section, typeof(WebhookOptions),
                [$"AllowedNetworks: '{n}' is not a network in CIDR notation (like 10.20.0.0/16)."])).ToList();

    /// <summary>Null when a webhook may reach <paramref name="address"/>; otherwise the kind of address it is.</summary>
    public string? RefusalOf(IPAddress address)
    {
        if (_allowed.Any(n => n.Contains(address)))
            return null;
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && EmbeddedIPv4(address) is { } embedded)
            return RefusalOf(embedded);
        return Refused.FirstOrDefault(r => r.Network.Contains(address)).Kind;
    }

    /// <summary>
    /// The addresses of <paramref name="host"/> (a name or an address literal); <see cref="WebhookAddressRefusedException"/> when any of
    /// them is refused (a name with one private address among public ones is refused whole), <see cref="SocketException"/> when the
    /// name does not resolve.
    /// </summary>
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        var addresses = IPAddress.TryParse(bare, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(bare, cancellationToken);
        if (addresses.Length == 0)
            throw new SocketException((int)SocketError.HostNotFound);
        foreach (var address in addresses)
            Check(address, host);
        return addresses;
    }

    /// <summary>Throws <see cref="WebhookAddressRefusedException"/> when <paramref name="address"/> is refused.</summary>
    public void Check(IPAddress address, string host)
    {
        if (RefusalOf(address) is { } kind)
            throw new WebhookAddressRefusedException(
                host == address.ToString() ? $"{address} is a {kind} address" : $"{host} resolves to {address}, a {kind} address");
    }

    /// <summary>The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) address.</summary>
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        if (IPNetwork.Parse("64:ff9b::/96").Contains(address))
            return new IPAddress(bytes[12..16]);
        if (bytes[0] == 0x20 && bytes[1] == 0x02)
            return new IPAddress(bytes[2..6]);
        return null;
    }
}
