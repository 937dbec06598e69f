using System.Text.Json;
using OpenHvx.Orchestrator.Actions;

namespace OpenHvx.Orchestrator.Api;

/// <summary>Typed reads of a JSON object's members; each wrong member adds a field error and reads as absent.</summary>
public sealed class BodyFields(JsonElement body, FieldErrors errors)
{
    /// <summary>A string member; null when absent or JSON null (an error when <paramref name="required"/>).</summary>
    public string? Text(string field, bool required, Func<string, bool> rule, string ruleText)
    {
        if (!Present(field, required, out var value))
            return null;
        if (value.ValueKind != JsonValueKind.String || !rule(value.GetString()!))
        {
            errors.Add(field, ruleText.StartsWith('^') ? "must match " + ruleText : "must be " + ruleText);
            return null;
        }
        return value.GetString();
    }

    /// <summary>An integer member from <paramref name="min"/> to <paramref name="max"/>; <paramref name="fallback"/> when absent (required when null).</summary>
    public int Integer(string field, int min, int max, int? fallback)
    {
        if (!Present(field, fallback is null, out var value))
            return fallback ?? 0;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max)
            return number;
        errors.Add(field, $"must be an integer from {min} to {max}");
        return fallback ?? 0;
    }

    public bool? Boolean(string field)
    {
        if (!Present(field, required: false, out var value))
            return null;
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return value.GetBoolean();
        errors.Add(field, "must be true or false");
        return null;
    }

    /// <summary>An ISO 8601 date-time with an offset (<c>2025-11-20T00:00:00Z</c>).</summary>
    public DateTimeOffset? DateTime(string field)
    {
        if (!Present(field, required: false, out var value))
            return null;
        if (value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out var at))
            return at;
        errors.Add(field, "must be an ISO 8601 date-time, like 2025-11-20T00:00:00Z");
        return null;
    }

    private bool Present(string field, bool required, out JsonElement value)
    {
        if (body.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null)
            return true;
        if (required)
            errors.Add(field, "is required");
        return false;
    }
}
