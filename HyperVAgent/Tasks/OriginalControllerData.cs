using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Tasks from the original OpenHVX controller (Node), read in our terms before a script runs
/// (Tests/fixtures/original-openhvx/FINDINGS.md, section 3). Its envelope has no <c>target</c>: the VM is in <c>data</c>
/// (<c>guid</c>, <c>id</c> or <c>target.refId</c>). Its field names are the original Go agent's (<c>ram</c> "2GB",
/// <c>storageMB</c>, <c>imagePath</c>, <c>cloudInit.ssh_authorized_keys</c>, vm.power <c>state</c> "on"/"off"/... or <c>op</c>).
/// Each mapping only fills a field of ours that is absent, or renames a value ours never uses, so a task of our own
/// orchestrator comes back as it was (the same instance).
/// </summary>
public static class OriginalControllerData
{
    public const string IscsiRefused = "iSCSI system disks (iqn) are not supported by this agent";

    public static AgentTask Normalize(AgentTask task)
    {
        if (task.Data.ValueKind != JsonValueKind.Object)
            return task;
        JsonObject data;
        try
        {
            data = JsonNode.Parse(task.Data.GetRawText())!.AsObject();
            _ = data.Count; // a repeated member name throws here: such data is left to the script as it came
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or InvalidOperationException)
        {
            return task;
        }
        var changed = false;
        var target = task.Target ?? TargetIn(data);
        changed |= target != task.Target;
        switch (task.Action)
        {
            case ActionNames.VmPower:
                changed |= NormalizePower(data);
                break;
            case ActionNames.VmCreate:
                changed |= NormalizeCreate(data);
                break;
        }
        return changed ? task with { Data = JsonSerializer.SerializeToElement(data), Target = target } : task;
    }

    public const string AmbiguousVm = "data.guid or data.id names another VM than data.target.refId";

    /// <summary>
    /// Why the agent refuses the task without running its script, or null: the original controller's iSCSI system disk; or a
    /// <c>guid</c>/<c>id</c> that names another VM than <c>target.refId</c>, the VM the controller checked the tenant owns (its schema
    /// lets a tenant's <c>guid</c> through, and its own agent would act on that one).
    /// </summary>
    public static AgentError? Refusal(AgentTask task)
    {
        if (task.Data.ValueKind != JsonValueKind.Object)
            return null;
        if (task.Action == ActionNames.VmCreate && task.Data.TryGetProperty("iqn", out var iqn) && iqn.ValueKind != JsonValueKind.Null)
            return new AgentError("ERR_INVALID_ARGUMENT", IscsiRefused, JsonSerializer.SerializeToElement(new { field = "iqn" }));
        if (task.Data.TryGetProperty("target", out var target) && target.ValueKind == JsonValueKind.Object && target.TryGetProperty("refId", out var refId)
            && refId.ValueKind == JsonValueKind.String)
        {
            foreach (var name in (ReadOnlySpan<string>)["guid", "id"])
            {
                if (task.Data.TryGetProperty(name, out var other) && other.ValueKind == JsonValueKind.String && !SameVm(other.GetString()!, refId.GetString()!))
                    return new AgentError("ERR_INVALID_ARGUMENT", AmbiguousVm, JsonSerializer.SerializeToElement(new { field = "data." + name }));
            }
        }
        return null;
    }

    private static bool SameVm(string a, string b)
        => Guid.TryParse(a, out var x) && Guid.TryParse(b, out var y) ? x == y : string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The VM the original controller means: <c>guid</c>, else <c>id</c>, else <c>target.refId</c>, else <c>target</c> when it is a string
    /// (older controllers), as its agent reads them (vm.power.ps1).
    /// </summary>
    private static TaskTarget? TargetIn(JsonObject data)
    {
        var nested = data["target"] as JsonObject;
        var refId = Text(data["guid"]) ?? Text(data["id"]) ?? Text(nested?["refId"]) ?? Text(data["target"]);
        return refId is null ? null : new TaskTarget(Text(nested?["kind"]) ?? "vm", refId, Text(nested?["agentId"]));
    }

    private static bool NormalizePower(JsonObject data)
    {
        var changed = false;
        // Older controllers send the operation as 'op'.
        if (data["state"] is null && data["op"] is { } op)
        {
            data["state"] = op.DeepClone();
            changed = true;
        }
        if (Text(data["state"]) is { } state && OriginalPowerStates.ToOurs.TryGetValue(state, out var ours))
        {
            data["state"] = ours;
            changed = true;
        }
        return changed;
    }

    private static bool NormalizeCreate(JsonObject data)
    {
        var changed = false;
        if (data["memoryMB"] is null && MegaBytes(data["ram"]) is { } memoryMB)
        {
            data["memoryMB"] = memoryMB;
            changed = true;
        }
        if (data["storageGB"] is null && data["storageMB"] is JsonValue storage && storage.TryGetValue<long>(out var storageMB) && storageMB > 0)
        {
            data["storageGB"] = (storageMB + 1023) / 1024;
            changed = true;
        }
        // Older controllers resolved an image to the original agent's path of it: ours takes a file of its images folder by name
        // (the script refuses one it does not have).
        if (data["imageFile"] is null && Text(data["imagePath"]) is { Length: > 0 } imagePath)
        {
            data["imageFile"] = imagePath[(imagePath.LastIndexOfAny(['/', '\\']) + 1)..];
            changed = true;
        }
        if (data["cloudInit"] is JsonObject cloudInit && cloudInit["sshAuthorizedKeys"] is null && cloudInit["ssh_authorized_keys"] is { } keys)
        {
            cloudInit["sshAuthorizedKeys"] = keys.DeepClone();
            changed = true;
        }
        return changed;
    }

    /// <summary>Memory as the original controller gives it ("2GB", or an integer of MB), in MB.</summary>
    private static long? MegaBytes(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<long>(out var mb) => mb,
        JsonValue value when value.TryGetValue<string>(out var text) && MemorySize.TryParse(text, out var size) => size.MegaBytes,
        _ => null,
    };

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
