using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using OpenHvx.Contracts;

namespace OpenHvx.ServiceDefaults;

/// <summary>
/// Reads a request body as one JSON object, strictly, so that no body a client can send reaches a handler half-valid:
/// a JSON media type (415 otherwise), at most <see cref="MaxBytes"/> (413), well-formed UTF-8 JSON at most
/// <see cref="StrictJson.MaxDepth"/> deep without a member named twice in one object, and no string or member name
/// with a lone surrogate or NUL (400).
/// </summary>
public static class JsonBodies
{
    public const int MaxBytes = 1024 * 1024;

    public static async Task<(JsonElement Body, IResult? Problem)> ReadObjectAsync(HttpContext http)
    {
        if (!IsJson(http.Request.ContentType))
            return (default, Problems.Result(ErrorCodes.UnsupportedMediaType, "The body must be JSON: send Content-Type: application/json."));
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBytes;
        if (http.Request.ContentLength > MaxBytes)
            return (default, Problems.Result(ErrorCodes.PayloadTooLarge, $"The body may have at most {MaxBytes} bytes."));
        var (root, error) = await StrictJson.ParseAsync(http.Request.Body, http.RequestAborted);
        if (error is not null)
            return (default, Problems.Result(ErrorCodes.BadEnvelope, "The body " + error));
        if (root.ValueKind != JsonValueKind.Object)
            return (default, Problems.Result(ErrorCodes.BadEnvelope, "The body must be a JSON object."));
        return (root, null);
    }

    /// <summary>The body as <typeparamref name="T"/> (web naming, unknown members refused); a problem when it is not one.</summary>
    public static async Task<(T? Body, IResult? Problem)> ReadAsync<T>(HttpContext http) where T : class
    {
        var (root, problem) = await ReadObjectAsync(http);
        if (problem is not null)
            return (null, problem);
        try
        {
            return (root.Deserialize<T>(Strict), null);
        }
        catch (JsonException ex)
        {
            return (null, Problems.Result(ErrorCodes.BadEnvelope, $"The body does not have the expected shape: {ex.Message}"));
        }
    }

    private static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary><c>application/json</c> or <c>application/*+json</c>, in UTF-8 when a charset is named.</summary>
    public static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
            return false;
        var json = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
        return json && (media.Charset.Value is not { } charset || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));
    }
}
