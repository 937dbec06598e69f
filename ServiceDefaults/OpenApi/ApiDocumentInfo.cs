using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenHvx.Contracts;

namespace OpenHvx.ServiceDefaults.OpenApi;

/// <summary>The document's description, its security schemes (bearer tokens of the token service) and the problem answer's schema.</summary>
internal sealed class ApiDocumentInfo : IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";
    public const string OAuthScheme = "oauth2";
    public const string ProblemSchema = "Problem";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = ApiDocument.Title,
            Version = "v1",
            Description = "The admin API (`/api/v1/admin`, tokens of audience `admin`) and the tenant API (`/api/v1/tenant`, audience `tenant`) of OpenHVX. "
                + "Tokens come from the token service (`/connect/token`, discovery at `/.well-known/openid-configuration`). Every error is an RFC 9457 "
                + "problem with a `code`; a validation problem (`ERR_VALIDATION`) lists every field error at once under `errors`, keyed by JSON path.",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "An access token of the token service, of the audience of the API called.",
        };
        var scopes = new Dictionary<string, string>
        {
            [Scopes.Admin] = "The admin API",
            [Scopes.Read] = "Read the tenant's tasks, resources, quotas",
            [Scopes.Write] = "Submit, cancel and retry tasks; manage webhooks",
            [Scopes.Users] = "Manage the tenant's users",
        };
        document.Components.SecuritySchemes[OAuthScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.OAuth2,
            Description = "The token service's grants (the device authorization grant of RFC 8628 too, at the discovery document's device_authorization_endpoint).",
            Flows = new OpenApiOAuthFlows
            {
                Password = new OpenApiOAuthFlow { TokenUrl = new Uri(TokenServicePaths.Token, UriKind.Relative), Scopes = scopes },
                ClientCredentials = new OpenApiOAuthFlow { TokenUrl = new Uri(TokenServicePaths.Token, UriKind.Relative), Scopes = scopes },
            },
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = Problem();
        return Task.CompletedTask;
    }

    private static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details with the API's error code.",
        Required = new HashSet<string> { "type", "title", "status", "code" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri" },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The error code (design/api.md, Errors); deadlines are ERR_DEADLINE_<STATE>.", Examples = [JsonValue.Create(ErrorCodes.Validation)] },
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "ERR_VALIDATION: the messages of each invalid field, keyed by its JSON path (data.cloudInit.user).",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
            ["details"] = new OpenApiSchema { Description = "What the error concerns (the quota exceeded, the candidates of an election, ...)." },
        },
        Examples =
        [
            new JsonObject
            {
                ["type"] = "https://openhvx.dev/errors/ERR_VALIDATION", ["title"] = "ERR_VALIDATION", ["status"] = 422,
                ["detail"] = "One or more fields are invalid.", ["code"] = "ERR_VALIDATION",
                ["errors"] = new JsonObject { ["data.cpu"] = new JsonArray("must be an integer from 1 to 64"), ["data.colour"] = new JsonArray("unknown field") },
            },
        ],
    };
}
