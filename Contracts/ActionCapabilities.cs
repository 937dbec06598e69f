namespace OpenHvx.Contracts;

/// <summary>
/// Which capability an agent advertises for an action. Agents of this generation name the actions they run; the original
/// OpenHVX generation (Go agent, Node controller) names a coarser capability for some: <c>inventory</c> for
/// <c>inventory.refresh</c>, <c>console</c> for the console actions, <c>storage</c> for disks, and otherwise the part of the
/// action before its first dot (<c>vm</c> for <c>vm.edit</c>), except the actions it names whole.
/// </summary>
public static class ActionCapabilities
{
    private static readonly HashSet<string> NamedWhole = new(StringComparer.Ordinal) { "vm.create", "vm.delete", "vm.power", "vm.clone", "echo" };

    /// <summary>The capability the original controller requires of an agent for <paramref name="action"/>.</summary>
    public static string OriginalName(string action) => action switch
    {
        ActionNames.InventoryRefresh => "inventory",
        "console.serial.open" or "net.tunnel.open" => "console",
        "disk.create" or "disk.delete" or "storage.create" or "storage.delete" => "storage",
        _ when NamedWhole.Contains(action) => action,
        _ => action.IndexOf('.') is > 0 and var dot ? action[..dot] : action,
    };

    /// <summary>Whether an agent advertising <paramref name="capabilities"/> runs <paramref name="action"/>, by either generation's name.</summary>
    public static bool Offers(IReadOnlyCollection<string> capabilities, string action)
        => capabilities.Contains(action) || capabilities.Contains(OriginalName(action));

    /// <summary>What an agent running <paramref name="actions"/> advertises: each action, and the original generation's name for it.</summary>
    public static IReadOnlyList<string> Advertised(IEnumerable<string> actions)
    {
        var list = actions.ToList();
        return list.Concat(list.Select(OriginalName)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }
}
