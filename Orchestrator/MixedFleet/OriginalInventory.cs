using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// The original agent stamps its inventory's <c>collectedAt</c> once it has listed its VMs and queried their disks (ours stamps it
/// before listing): its list shows the host as of some time before the stamp.
/// </summary>
public static class OriginalInventory
{
    /// <summary>
    /// The inventory with <c>collectedAt</c> moved back by <paramref name="collectionTime"/>, the time its list may be that much older
    /// than the stamp; the agent's own stamp is kept as <c>agentCollectedAt</c>. Unchanged when it has no readable stamp.
    /// </summary>
    public static JsonElement AsListed(JsonElement inventory, TimeSpan collectionTime)
    {
        if (inventory.ValueKind != JsonValueKind.Object || inventory.TryGetProperty("agentCollectedAt", out _)
            || !inventory.TryGetProperty("collectedAt", out var at) || at.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var stamped))
            return inventory;
        var node = JsonNode.Parse(inventory.GetRawText())!.AsObject();
        node["agentCollectedAt"] = at.GetString();
        node["collectedAt"] = (stamped - collectionTime).ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        return JsonSerializer.SerializeToElement(node);
    }
}
