using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// The original agent's light inventory (after each task): its VMs' power state and usage only, no host, networks nor datastores,
/// marked by <c>x-source: inventory.refresh.light</c> or <c>x-merge-mode: patch-nondestructive</c> (as headers or in the envelope).
/// It is merged into the full inventory held: it updates the VMs it lists and adds those it does not know, and never removes
/// anything, so reconciliation (which may mark a VM gone) waits for the next full inventory.
/// </summary>
public static class LightInventory
{
    public const string Source = "inventory.refresh.light";
    public const string NonDestructiveMerge = "patch-nondestructive";

    public static bool IsLight(string? source, string? mergeMode) => source == Source || mergeMode == NonDestructiveMerge;

    /// <summary>The inventory held (or an empty one) with the light one's VMs merged in; a null member of the light one changes nothing.</summary>
    public static JsonElement Merge(JsonElement? held, JsonElement light)
    {
        var merged = held is { ValueKind: JsonValueKind.Object } full ? JsonNode.Parse(full.GetRawText())!.AsObject() : new JsonObject();
        if (merged["vms"] is not JsonArray vms)
            merged["vms"] = vms = [];
        if (light.ValueKind == JsonValueKind.Object && light.TryGetProperty("vms", out var lightVms) && lightVms.ValueKind == JsonValueKind.Array)
        {
            foreach (var vm in lightVms.EnumerateArray())
            {
                if (vm.ValueKind != JsonValueKind.Object || !vm.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                    continue;
                var update = JsonNode.Parse(vm.GetRawText())!.AsObject();
                if (vms.OfType<JsonObject>().FirstOrDefault(known => SameId(known["id"], id.GetString()!)) is { } existing)
                    Overlay(existing, update);
                else
                    vms.Add(update);
            }
        }
        if (!merged.ContainsKey("schemaVersion") && light.ValueKind == JsonValueKind.Object && light.TryGetProperty("schemaVersion", out var version))
            merged["schemaVersion"] = JsonNode.Parse(version.GetRawText());
        return JsonSerializer.SerializeToElement(merged);
    }

    private static void Overlay(JsonObject target, JsonObject update)
    {
        foreach (var (name, value) in update.ToList())
        {
            if (value is null)
                continue;
            if (value is JsonObject nested && target[name] is JsonObject existing)
            {
                Overlay(existing, nested);
                continue;
            }
            update.Remove(name);
            target[name] = value;
        }
    }

    private static bool SameId(JsonNode? known, string id)
        => known is JsonValue value && value.TryGetValue<string>(out var text)
           && (string.Equals(text, id, StringComparison.OrdinalIgnoreCase) || Guid.TryParse(text, out var a) && Guid.TryParse(id, out var b) && a == b);
}
