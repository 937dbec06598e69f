using System.Text.Json;

namespace OpenHvx.Contracts;

/// <summary>
/// Parses one JSON document and refuses what would break or fool code that reads it later: malformed JSON or UTF-8,
/// more than <see cref="MaxDepth"/> levels, a member named twice in one object (which one wins is up to the reader),
/// and strings or member names with a lone surrogate (no valid text has one) or NUL.
/// </summary>
public static class StrictJson
{
    public const int MaxDepth = 32;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>The parsed root, or an error that completes "The body ...".</summary>
    public static async Task<(JsonElement Root, string? Error)> ParseAsync(Stream utf8Json, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(utf8Json, Options, cancellationToken);
            return Check(document.RootElement) is { } problem ? (default, problem) : (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, $"is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // Comparing member names (duplicate detection) decodes them: a lone surrogate escape fails there.
            return (default, "has text that is not valid UTF-8 or UTF-16.");
        }
    }

    /// <summary>The same checks on text already parsed elsewhere.</summary>
    public static string? Check(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if ((NameProblem(property) ?? Check(property.Value)) is { } problem)
                        return problem;
                }
                return null;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (Check(item) is { } problem)
                        return problem;
                }
                return null;
            case JsonValueKind.String:
                return TextProblem(element);
            default:
                return null;
        }
    }

    private static string? NameProblem(JsonProperty property)
    {
        string text;
        try
        {
            text = property.Name;
        }
        catch (InvalidOperationException)
        {
            return "has a member name that is not valid UTF-8 or UTF-16 text.";
        }
        return IsClean(text) ? null : "has a member name with a lone surrogate or NUL character.";
    }

    private static string? TextProblem(JsonElement value)
    {
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return "has a string that is not valid UTF-8 or UTF-16 text.";
        }
        return IsClean(text) ? null : "has a string with a lone surrogate or NUL character.";
    }

    /// <summary>No NUL, and every surrogate in a pair.</summary>
    public static bool IsClean(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
                return false;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
                return false;
        }
        return true;
    }
}
