using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace OpenHvx.Contracts.Actions;

/// <summary>An amount of memory as a request gives it: <c>"2GB"</c>, <c>"512MB"</c>, <c>"1TB"</c> or an integer of MB.</summary>
[JsonConverter(typeof(MemorySizeJsonConverter))]
public readonly partial record struct MemorySize(long MegaBytes)
{
    public const string Rule = "like \"2GB\", \"512MB\" or an integer of MB";

    /// <summary>The string form's pattern, for schemas (ECMA-262: <c>$</c> matches at the very end only).</summary>
    public const string Pattern = "^[0-9]+ ?([Mm][Bb]|[Gg][Bb]|[Tt][Bb])$";

    [GeneratedRegex(@"\A(?<n>[0-9]+) ?(?<u>MB|GB|TB)\z", RegexOptions.IgnoreCase)]
    private static partial Regex TextPattern();

    public static bool TryParse(string? text, out MemorySize size)
    {
        size = default;
        var match = TextPattern().Match(text ?? "");
        if (!match.Success || !long.TryParse(match.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 1024L * 1024 * 1024)
            return false;
        size = new MemorySize(match.Groups["u"].Value.ToUpperInvariant() switch
        {
            "MB" => n,
            "GB" => n * 1024,
            _ => n * 1024 * 1024,
        });
        return true;
    }

    public override string ToString() => MegaBytes % (1024 * 1024) == 0 ? $"{MegaBytes / (1024 * 1024)}TB"
        : MegaBytes % 1024 == 0 ? $"{MegaBytes / 1024}GB" : $"{MegaBytes}MB";
}

/// <summary>Reads a string with a unit or an integer of MB; writes the integer.</summary>
public sealed class MemorySizeJsonConverter : JsonConverter<MemorySize>
{
    public override MemorySize Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var mb))
            return new MemorySize(mb);
        if (reader.TokenType == JsonTokenType.String && MemorySize.TryParse(reader.GetString(), out var size))
            return size;
        throw new JsonException("must be " + MemorySize.Rule);
    }

    public override void Write(Utf8JsonWriter writer, MemorySize value, JsonSerializerOptions options) => writer.WriteNumberValue(value.MegaBytes);
}
