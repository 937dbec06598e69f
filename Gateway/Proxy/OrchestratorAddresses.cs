namespace OpenHvx.Gateway.Proxy;

/// <summary>
/// The orchestrators' addresses as <c>OPENHVX_ORCHESTRATOR_URL</c> (Gateway:OrchestratorUrl) lists them: absolute http or https
/// URLs separated by commas, each trimmed of the spaces and line ends around it.
/// </summary>
public static class OrchestratorAddresses
{
    public const string Setting = "Gateway:OrchestratorUrl (OPENHVX_ORCHESTRATOR_URL)";

    /// <summary>The addresses in their order; none for an unset list. Throws, naming the item, for an empty, malformed or repeated one.</summary>
    public static IReadOnlyList<Uri> Parse(string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
            return [];
        var addresses = new List<Uri>();
        foreach (var raw in list.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0)
                throw new InvalidOperationException($"{Setting}: the list '{list.Trim()}' has an empty item; separate the URLs with single commas.");
            if (!Uri.TryCreate(item, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https") || address.Host.Length == 0
                || item.Any(char.IsWhiteSpace) || address.UserInfo.Length > 0 || address.Query.Length > 0 || address.Fragment.Length > 0)
                throw new InvalidOperationException($"{Setting}: '{item}' is not an absolute http or https URL (scheme, host, optional port and path).");
            if (addresses.Contains(address))
                throw new InvalidOperationException($"{Setting}: '{item}' is listed twice.");
            addresses.Add(address);
        }
        return addresses;
    }

    /// <summary>YARP's name of the orchestrator at <paramref name="index"/> (from 0) in the list: <c>orchestrator-1</c>, <c>orchestrator-2</c>, ...</summary>
    public static string DestinationId(int index) => $"orchestrator-{index + 1}";
}
