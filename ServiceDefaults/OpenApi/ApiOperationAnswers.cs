using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenHvx.Contracts;

namespace OpenHvx.ServiceDefaults.OpenApi;

/// <summary>Each operation's security requirement (audience and scope of its path and method) and its problem answers with their codes.</summary>
internal sealed class ApiOperationAnswers : IOpenApiOperationTransformer
{
    /// <summary>Every error code the API answers with, by the status it comes with (<see cref="Problems.StatusOf"/>).</summary>
    private static readonly ILookup<int, string> CodesByStatus = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .Where(code => code.StartsWith("ERR_", StringComparison.Ordinal) && code != ErrorCodes.DeadlinePrefix)
        .ToLookup(Problems.StatusOf);

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var path = "/" + (context.Description.RelativePath ?? "");
        var method = context.Description.HttpMethod ?? "GET";
        var audience = Audiences.OfPath(path);
        var scope = audience == Audiences.Admin ? Scopes.Admin
            : HttpMethods.IsGet(method) ? Scopes.Read
            : path.StartsWith("/api/v1/tenant/users", StringComparison.Ordinal) ? Scopes.Users
            : Scopes.Write;
        operation.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiDocumentInfo.BearerScheme, context.Document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiDocumentInfo.OAuthScheme, context.Document)] = [scope] },
        ];
        if (audience is not null)
            operation.Description = (operation.Description is null ? "" : operation.Description + "\n\n") + $"Token audience `{audience}`, scope `{scope}`.";

        operation.Responses ??= new OpenApiResponses();
        var statuses = new List<int> { 400, 401, 403, 404, 429, 503 };
        if (!HttpMethods.IsGet(method))
            statuses.AddRange([409, 413, 415, 422]);
        foreach (var status in statuses.Order())
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.ContainsKey(key))
                continue;
            var codes = CodesByStatus[status].Order().ToList();
            operation.Responses[key] = new OpenApiResponse
            {
                Description = codes.Count == 0 ? ReasonOf(status) : $"{ReasonOf(status)}: {string.Join(", ", codes)}",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    [Problems.ContentType] = new() { Schema = new OpenApiSchemaReference(ApiDocumentInfo.ProblemSchema, context.Document) },
                },
            };
        }
        return Task.CompletedTask;
    }

    private static string ReasonOf(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
}
