using OpenHvx.Contracts;

namespace OpenHvx.Gateway;

/// <summary>Problem details with the API's <c>code</c> (design/api.md, Errors), as the orchestrator writes them.</summary>
public static class GatewayProblems
{
    public static IResult Result(int status, string code, string detail, IDictionary<string, string[]>? errors = null)
        => Results.Json(Body(status, code, detail, errors), statusCode: status, contentType: "application/problem+json");

    public static Task WriteAsync(HttpContext http, int status, string code, string detail)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(Body(status, code, detail, null), (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
    }

    public static IResult Validation(IDictionary<string, string[]> errors)
        => Result(StatusCodes.Status422UnprocessableEntity, ErrorCodes.Validation, "One or more fields are invalid.", errors);

    private static Dictionary<string, object?> Body(int status, string code, string detail, IDictionary<string, string[]>? errors)
    {
        var body = new Dictionary<string, object?>
        {
            ["type"] = $"https://openhvx.dev/errors/{code}",
            ["title"] = code,
            ["status"] = status,
            ["detail"] = detail,
            ["code"] = code,
        };
        if (errors is not null)
            body["errors"] = errors;
        return body;
    }
}
