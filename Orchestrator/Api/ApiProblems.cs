using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using OpenHvx.Contracts;

namespace OpenHvx.Orchestrator.Api;

/// <summary>RFC 9457 problem details with the API's <c>code</c> member (design/api.md, Errors).</summary>
public static class ApiProblems
{
    public static int StatusOf(string code) => code switch
    {
        ErrorCodes.Validation or ErrorCodes.ImageNotFound => StatusCodes.Status422UnprocessableEntity,
        ErrorCodes.UnknownAction or ErrorCodes.BadEnvelope or ErrorCodes.TenantRequired => StatusCodes.Status400BadRequest,
        ErrorCodes.TenantMismatch or ErrorCodes.TenantDisabled or ErrorCodes.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCodes.NotFound => StatusCodes.Status404NotFound,
        ErrorCodes.Unauthenticated => StatusCodes.Status401Unauthorized,
        ErrorCodes.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorCodes.NoEligibleAgent => StatusCodes.Status503ServiceUnavailable,
        ErrorCodes.QuotaExceeded or ErrorCodes.ResourceLocked or ErrorCodes.NameTaken or ErrorCodes.IdempotencyConflict
            or ErrorCodes.TenantExists or ErrorCodes.TenantHasResources => StatusCodes.Status409Conflict,
        _ when code.StartsWith(ErrorCodes.DeadlinePrefix, StringComparison.Ordinal) => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status422UnprocessableEntity,
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
        return Results.Json(problem, statusCode: problem.Status, contentType: "application/problem+json");
    }

    public static IResult Validation(IDictionary<string, string[]> errors)
        => Result(ErrorCodes.Validation, "One or more fields are invalid.", errors);
}
