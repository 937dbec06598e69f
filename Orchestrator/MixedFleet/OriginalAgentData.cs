using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;

namespace OpenHvx.Orchestrator.MixedFleet;

/// <summary>
/// A task's data as the original OpenHVX agent's scripts read it, for a task dispatched to an agent of that generation. Our
/// members stay (the original scripts ignore what they do not read); the names those scripts read are added: the VM reference
/// as <c>guid</c>, <c>id</c> and <c>target.refId</c>, the power state in their words, <c>imagePath</c> for the base disk,
/// <c>cloudInit.ssh_authorized_keys</c>, and <c>vm.edit</c>'s <c>name</c>/<c>new_name</c>/<c>ram</c>/<c>dynamic_memory</c>.
/// </summary>
public static class OriginalAgentData
{
    /// <param name="vmName">the VM's name, which the original <c>vm.edit</c> finds it by</param>
    public static JsonElement Translate(string action, JsonElement data, TaskTarget? target, string? vmName, OriginalAgentOptions options)
    {
        var node = data.ValueKind == JsonValueKind.Object ? JsonNode.Parse(data.GetRawText())!.AsObject() : new JsonObject();
        if (target?.RefId is { } refId)
        {
            node.TryAdd("guid", refId);
            node.TryAdd("id", refId);
            node["target"] = new JsonObject { ["kind"] = target.Kind, ["refId"] = refId, ["agentId"] = target.AgentId };
        }
        switch (action)
        {
            case ActionNames.VmPower when Text(node, "state") is { } state && OriginalPowerStates.ToTheirs.TryGetValue(state, out var original):
                node["state"] = original;
                break;
            case ActionNames.VmCreate:
                if (Text(node, "imageFile") is { } file && options.ImagesPath.Length > 0)
                    node["imagePath"] = JoinHostPath(options.ImagesPath, file);
                if (node["cloudInit"] is JsonObject cloudInit && cloudInit["sshAuthorizedKeys"] is { } keys)
                    cloudInit["ssh_authorized_keys"] = keys.DeepClone();
                break;
            case ActionNames.VmEdit:
                if (vmName is not null)
                    node["name"] = vmName;
                if (Text(node, "newName") is { } newName)
                    node["new_name"] = newName;
                if (node["memoryMB"] is JsonValue memory && memory.TryGetValue<long>(out var mb))
                    node["ram"] = $"{mb}MB";
                if (node["dynamicMemory"] is JsonObject dynamic)
                {
                    node["dynamic_memory"] = dynamic["enabled"]?.DeepClone();
                    if (dynamic["min"] is JsonValue min && min.TryGetValue<long>(out var minMb))
                        node["min_ram"] = $"{minMb}MB";
                    if (dynamic["max"] is JsonValue max && max.TryGetValue<long>(out var maxMb))
                        node["max_ram"] = $"{maxMb}MB";
                }
                break;
        }
        return JsonSerializer.SerializeToElement(node);
    }

    /// <summary>A Windows path on the host: the folder as configured, one separator, the file.</summary>
    private static string JoinHostPath(string folder, string file)
        => folder.TrimEnd('\\', '/') + (folder.Contains('/') && !folder.Contains('\\') ? "/" : "\\") + file;

    private static string? Text(JsonObject node, string name) => node[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
