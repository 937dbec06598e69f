namespace OpenHvx.Cli;

/// <summary>The environment variables a run sees (the process's, or a test's).</summary>
public sealed record CliEnvironment(IReadOnlyDictionary<string, string?> Variables)
{
    public const string Url = "OPENHVX_URL";
    public const string Token = "OPENHVX_TOKEN";
    public const string ConfigDir = "OPENHVX_CONFIG_DIR";

    public static CliEnvironment System()
        => new(Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal));

    public string? this[string name] => Variables.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) ? value : null;

    /// <summary>$OPENHVX_CONFIG_DIR, else $XDG_CONFIG_HOME/openhvx, else ~/.config/openhvx.</summary>
    public string ConfigFolder
        => this[ConfigDir]
            ?? Path.Combine(this["XDG_CONFIG_HOME"] ?? Path.Combine(this["HOME"] ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"), "openhvx");
}
