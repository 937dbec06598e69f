using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Api;

/// <summary>Reads a request body as one JSON object, strictly: malformed JSON is a 400, never a 500.</summary>
public static class JsonBody
{
    public const int MaxBytes = 1024 * 1024;

    public static async Task<(JsonElement Body, IResult? Problem)> ReadObjectAsync(HttpContext http)
    {
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBytes;
        if (http.Request.ContentLength > MaxBytes)
            return (default, ApiProblems.Result(ErrorCodes.PayloadTooLarge, $"The body is larger than {MaxBytes} bytes.", status: StatusCodes.Status413PayloadTooLarge));
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = 32 }, http.RequestAborted);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return (default, ApiProblems.Result(ErrorCodes.BadEnvelope, "The body must be a JSON object."));
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, ApiProblems.Result(ErrorCodes.BadEnvelope, $"The body is not valid JSON: {ex.Message}"));
        }
    }

    /// <summary>Field errors for members outside <paramref name="allowed"/>.</summary>
    public static void RejectUnknown(JsonElement body, IReadOnlySet<string> allowed, Actions.FieldErrors errors, string prefix = "")
    {
        foreach (var property in body.EnumerateObject())
        {
            if (!allowed.Contains(property.Name))
                errors.Add(prefix + property.Name, "unknown field");
        }
    }
}
