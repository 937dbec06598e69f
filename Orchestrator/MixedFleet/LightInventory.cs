using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// The original agent's light inventory (after each task): its VMs' power state and usage only, no host, networks nor datastores,
/// marked by <c>x-source: inventory.refresh.light</c> or <c>x-merge-mode: patch-nondestructive</c> (as headers or in the envelope).
/// It is merged into the full inventory held: it updates what changes while a VM runs on the VMs it lists and adds those it does
/// not know, never removes anything, and leaves the configured sizes alone (its <c>memoryMb</c> is the memory assigned at the
/// moment, 0 for a VM that is off). Reconciliation (which may mark a VM gone) waits for the next full inventory.
/// </summary>
public static class LightInventory
{
    public const string Source = "inventory.refresh.light";
    public const string NonDestructiveMerge = "patch-nondestructive";
    public const string SourceHeader = "x-source";
    public const string MergeModeHeader = "x-merge-mode";

    /// <summary>What a light inventory may change on a VM the full one lists.</summary>
    private static readonly string[] Volatile = ["name", "powerState", "state", "uptimeSec", "cpuUsagePct", "memoryAssignedMB", "automaticStart", "automaticStop"];

    public static bool IsLight(string? source, string? mergeMode) => source == Source || mergeMode == NonDestructiveMerge;

    /// <summary>
    /// The inventory held (or an empty one) with the light one merged in; the held one unchanged when the light one was collected
    /// before it (a late message).
    /// </summary>
    public static JsonElement Merge(JsonElement? held, JsonElement light)
    {
        if (held is { ValueKind: JsonValueKind.Object } full && CollectedAt(light) < CollectedAt(full))
            return full;
        var merged = held is { ValueKind: JsonValueKind.Object } h ? JsonNode.Parse(h.GetRawText())!.AsObject() : new JsonObject();
        if (merged["vms"] is not JsonArray vms)
            merged["vms"] = vms = [];
        var known = new Dictionary<string, JsonObject>(StringComparer.OrdinalIgnoreCase);
        foreach (var vm in vms.OfType<JsonObject>())
        {
            if (vm["id"] is JsonValue id && id.TryGetValue<string>(out var text))
                known.TryAdd(Key(text), vm);
        }
        if (light.ValueKind == JsonValueKind.Object && light.TryGetProperty("vms", out var lightVms) && lightVms.ValueKind == JsonValueKind.Array)
        {
            foreach (var vm in lightVms.EnumerateArray())
            {
                if (vm.ValueKind != JsonValueKind.Object || !vm.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                    continue;
                var update = JsonNode.Parse(vm.GetRawText())!.AsObject();
                if (known.TryGetValue(Key(id.GetString()!), out var existing))
                {
                    foreach (var name in Volatile)
                    {
                        if (update[name] is { } value)
                            existing[name] = value.DeepClone();
                    }
                    continue;
                }
                // A VM the full inventory did not have yet: what it uses now, not a size it was given.
                if (update["memoryMb"] is { } assigned && !update.ContainsKey("memoryAssignedMB"))
                    update["memoryAssignedMB"] = assigned.DeepClone();
                update.Remove("memoryMb");
                known[Key(id.GetString()!)] = update;
                vms.Add(update);
            }
        }
        if (!merged.ContainsKey("schemaVersion") && light.ValueKind == JsonValueKind.Object && light.TryGetProperty("schemaVersion", out var version))
            merged["schemaVersion"] = JsonNode.Parse(version.GetRawText());
        return JsonSerializer.SerializeToElement(merged);
    }

    private static string Key(string id) => Guid.TryParse(id, out var guid) ? guid.ToString() : id;

    private static DateTimeOffset CollectedAt(JsonElement inventory)
        => inventory.ValueKind == JsonValueKind.Object && inventory.TryGetProperty("collectedAt", out var at) && at.ValueKind == JsonValueKind.String
           && DateTimeOffset.TryParse(at.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : DateTimeOffset.MinValue;
}
