using Scalar.AspNetCore;
using OpenHvx.ServiceDefaults.OpenApi;

namespace OpenHvx.Gateway.Docs;

/// <summary>The API's OpenAPI document at <c>/openapi/v1.json</c> and its interactive reference (Scalar, shipped in the gateway) at <c>/docs</c>.</summary>
public static class ApiReference
{
    public const string DocsPath = "/docs";

    public static IServiceCollection AddApiReference(this IServiceCollection services)
    {
        services.AddApiDocument();
        services.AddSingleton<MergedApiDocument>();
        return services;
    }

    public static IEndpointRouteBuilder MapApiReference(this IEndpointRouteBuilder app)
    {
        app.MapGet(ApiDocument.Path, (MergedApiDocument document, CancellationToken cancellationToken) => document.AnswerAsync(cancellationToken))
            .ExcludeFromDescription();
        app.MapScalarApiReference(DocsPath, options => options
            .WithTitle(ApiDocument.Title)
            .WithOpenApiRoutePattern(ApiDocument.Path));
        return app;
    }
}
