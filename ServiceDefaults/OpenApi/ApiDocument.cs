using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace OpenHvx.ServiceDefaults.OpenApi;

/// <summary>
/// The OpenAPI 3.1 document of a service's API, generated from its endpoints (Microsoft.AspNetCore.OpenApi): the API routes only, each with
/// its security requirement and problem answers, and the action rules in the schemas. The gateway serves the whole API's document.
/// </summary>
public static class ApiDocument
{
    public const string Name = "v1";
    public const string Path = "/openapi/v1.json";
    public const string Title = "OpenHVX API";

    public static IServiceCollection AddApiDocument(this IServiceCollection services, Action<OpenApiOptions>? configure = null)
    {
        services.AddOpenApi(Name, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer<ApiDocumentInfo>();
            options.AddOperationTransformer<ApiOperationAnswers>();
            options.AddSchemaTransformer<ActionRuleSchemas>();
            configure?.Invoke(options);
        });
        return services;
    }

    /// <summary>Serves the service's own document at <see cref="Path"/> (the gateway merges the orchestrator's into its own).</summary>
    public static IEndpointConventionBuilder MapApiDocument(this IEndpointRouteBuilder app) => app.MapOpenApi(Path);
}
