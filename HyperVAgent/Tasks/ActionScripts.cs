using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.HyperVAgent.PowerShell;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// The actions this agent can run: one script <c>Scripts/&lt;action&gt;.ps1</c> each (files starting
/// with <c>_</c> are internal). Maps a task's data onto the script's declared parameters.
/// </summary>
public sealed partial class ActionScripts(PowerShellRunner runner, IOptions<AgentOptions> options)
{
    // Field names that differ from the script's parameter names.
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase) { ["switch"] = "SwitchName" };

    [GeneratedRegex(@"\A[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)+\z")]
    private static partial Regex ActionPattern();

    /// <summary>
    /// What the heartbeat advertises: each action, and the original OpenHVX controller's capability name for it (<c>inventory</c>,
    /// <c>vm</c>), so that its capability gate lets the agent's actions through.
    /// </summary>
    public IReadOnlyList<string> Capabilities() => ActionCapabilities.Advertised(Actions());

    /// <summary>The actions this agent has a script for, sorted.</summary>
    public IReadOnlyList<string> Actions()
    {
        var folder = options.Value.ResolvedScriptsPath;
        if (!Directory.Exists(folder))
            return [];
        return Directory.EnumerateFiles(folder, "*.ps1")
            .Select(Path.GetFileNameWithoutExtension)
            .Where(name => name is not null && ActionPattern().IsMatch(name))
            .Select(name => name!)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public bool TryGetScript(string action, out string path)
    {
        path = runner.ScriptPath(action);
        return ActionPattern().IsMatch(action) && File.Exists(path);
    }

    /// <summary>Parameters for a script: the task's data fields that the script declares, plus TaskId, TenantId and BasePath.</summary>
    public IReadOnlyDictionary<string, object?> BuildParameters(string scriptPath, AgentTask task)
    {
        var declared = runner.GetParameters(scriptPath);
        var parameters = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        void Set(string name, object? value)
        {
            if (declared.ContainsKey(name) && value is not null)
                parameters[name] = value;
        }

        if (task.Data.ValueKind == JsonValueKind.Object)
        {
            foreach (var field in task.Data.EnumerateObject())
            {
                var name = Aliases.TryGetValue(field.Name, out var alias) ? alias : field.Name;
                if (declared.TryGetValue(name, out var type))
                    Set(name, Convert(field.Value, type));
                else if (declared.ContainsKey(name + "Json"))
                    Set(name + "Json", field.Value.GetRawText());
            }
        }
        Set("VmId", task.Target?.RefId);
        Set("TaskId", task.TaskId.ToString());
        Set("TenantId", task.TenantId);
        Set("BasePath", options.Value.FullDataPath);
        return parameters;
    }

    private static object? Convert(JsonElement value, Type type) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number when value.TryGetInt64(out var integer) => integer,
        JsonValueKind.Number => value.GetDouble().ToString(CultureInfo.InvariantCulture),
        // Objects and arrays reach string parameters as JSON text; the script parses them as data.
        _ => type == typeof(string) ? value.GetRawText() : null,
    };
}
