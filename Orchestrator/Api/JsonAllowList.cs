using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenHvx.Orchestrator.Api;

/// <summary>
/// The members of a JSON document a view may show, as a tree: a leaf copies the member's value, a nested list keeps only
/// its own members (in an object, or in each object of an array). Anything not named is left out, so a field an agent
/// adds later stays hidden until someone decides it may be shown.
/// </summary>
public sealed class JsonAllowList
{
    private readonly Dictionary<string, JsonAllowList?> _members = new(StringComparer.Ordinal);

    public static readonly JsonAllowList Nothing = new();

    /// <summary>These members, copied whole.</summary>
    public static JsonAllowList Of(params string[] leaves)
    {
        var list = new JsonAllowList();
        foreach (var leaf in leaves)
            list._members[leaf] = null;
        return list;
    }

    /// <summary>This list and <paramref name="name"/>, of which only what <paramref name="nested"/> names is kept.</summary>
    public JsonAllowList With(string name, JsonAllowList nested)
    {
        var list = new JsonAllowList();
        foreach (var (member, inner) in _members)
            list._members[member] = inner;
        list._members[name] = nested;
        return list;
    }

    /// <summary>The allowed part of <paramref name="value"/>; null when nothing of it is allowed.</summary>
    public JsonElement? Project(JsonElement? value)
    {
        if (_members.Count == 0 || value is not { ValueKind: JsonValueKind.Object } element)
            return null;
        return JsonSerializer.SerializeToElement(ProjectObject(element));
    }

    private JsonObject ProjectObject(JsonElement element)
    {
        var result = new JsonObject();
        foreach (var property in element.EnumerateObject())
        {
            if (!_members.TryGetValue(property.Name, out var nested))
                continue;
            result[property.Name] = nested is null ? JsonNode.Parse(property.Value.GetRawText()) : nested.ProjectNode(property.Value);
        }
        return result;
    }

    private JsonNode? ProjectNode(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => ProjectObject(value),
        JsonValueKind.Array => new JsonArray([.. value.EnumerateArray().Select(ProjectNode)]),
        // A scalar where an object was expected tells nothing the list allows.
        _ => null,
    };
}
