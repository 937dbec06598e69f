using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using OpenHvx.Contracts;

namespace OpenHvx.ServiceDefaults;

/// <summary>RFC 9457 problem details with the API's <c>code</c> member (design/api.md, Errors), for every service.</summary>
public static class Problems
{
    public const string ContentType = "application/problem+json";

    public static int StatusOf(string code) => code switch
    {
        ErrorCodes.Validation or ErrorCodes.ImageNotFound => StatusCodes.Status422UnprocessableEntity,
        ErrorCodes.UnknownAction or ErrorCodes.BadEnvelope or ErrorCodes.TenantRequired or ErrorCodes.BadHeader or ErrorCodes.BadRequest
            => StatusCodes.Status400BadRequest,
        ErrorCodes.TenantMismatch or ErrorCodes.TenantDisabled or ErrorCodes.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCodes.NotFound => StatusCodes.Status404NotFound,
        ErrorCodes.MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        ErrorCodes.Unauthenticated => StatusCodes.Status401Unauthorized,
        ErrorCodes.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorCodes.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorCodes.NoEligibleAgent or ErrorCodes.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ErrorCodes.UpstreamUnavailable => StatusCodes.Status502BadGateway,
        ErrorCodes.Internal => StatusCodes.Status500InternalServerError,
        ErrorCodes.QuotaExceeded or ErrorCodes.ResourceLocked or ErrorCodes.NameTaken or ErrorCodes.IdempotencyConflict
            or ErrorCodes.TenantExists or ErrorCodes.TenantHasResources or ErrorCodes.UserExists or ErrorCodes.ImageExists or ErrorCodes.ImageInUse
            or ErrorCodes.TaskFinal or ErrorCodes.TaskNotRetryable or ErrorCodes.WebhookLimit
            => StatusCodes.Status409Conflict,
        _ when code.StartsWith(ErrorCodes.DeadlinePrefix, StringComparison.Ordinal) => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status422UnprocessableEntity,
    };

    /// <summary>The code an error status means when nothing more specific is known (an empty 404 or 405, a bad request read).</summary>
    public static string CodeOf(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => ErrorCodes.Unauthenticated,
        StatusCodes.Status403Forbidden => ErrorCodes.Forbidden,
        StatusCodes.Status404NotFound => ErrorCodes.NotFound,
        StatusCodes.Status405MethodNotAllowed => ErrorCodes.MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => ErrorCodes.PayloadTooLarge,
        StatusCodes.Status415UnsupportedMediaType => ErrorCodes.UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => ErrorCodes.RateLimited,
        StatusCodes.Status502BadGateway => ErrorCodes.UpstreamUnavailable,
        StatusCodes.Status503ServiceUnavailable => ErrorCodes.Unavailable,
        >= 500 => ErrorCodes.Internal,
        _ => ErrorCodes.BadRequest,
    };

    public static ProblemDetails Create(string code, string detail, IDictionary<string, string[]>? errors = null, JsonElement? details = null, int? status = null)
    {
        status ??= StatusOf(code);
        var problem = new ProblemDetails
        {
            Type = $"https://openhvx.dev/errors/{code}",
            Title = code,
            Status = status,
            Detail = detail,
        };
        problem.Extensions["code"] = code;
        if (errors is not null)
            problem.Extensions["errors"] = errors;
        if (details is { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null })
            problem.Extensions["details"] = details;
        return problem;
    }

    public static IResult Result(string code, string detail, IDictionary<string, string[]>? errors = null, JsonElement? details = null, int? status = null)
    {
        var problem = Create(code, detail, errors, details, status);
        return Results.Json(problem, statusCode: problem.Status, contentType: ContentType);
    }

    public static IResult Validation(IDictionary<string, string[]> errors)
        => Result(ErrorCodes.Validation, "One or more fields are invalid.", errors);

    /// <summary>Writes the problem as the response (outside an endpoint: middleware, handlers).</summary>
    public static Task WriteAsync(HttpContext http, string code, string detail, int? status = null)
    {
        var problem = Create(code, detail, status: status);
        http.Response.StatusCode = problem.Status!.Value;
        return http.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, ContentType);
    }
}
