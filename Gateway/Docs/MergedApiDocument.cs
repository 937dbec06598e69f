using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenHvx.Contracts;
using OpenHvx.Gateway.Proxy;
using OpenHvx.ServiceDefaults;
using OpenHvx.ServiceDefaults.OpenApi;

namespace OpenHvx.Gateway.Docs;

/// <summary>
/// The whole API's OpenAPI document as clients see it through the gateway: the orchestrator's routes (read from it) and the gateway's own
/// (users, service clients, signing keys), merged; kept for <see cref="KeptFor"/>.
/// </summary>
public sealed class MergedApiDocument([FromKeyedServices(ApiDocument.Name)] IOpenApiDocumentProvider gateway, OrchestratorClient orchestrator)
{
    /// <summary>How long a built document is kept: an orchestrator upgraded behind a running gateway is seen within this time.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Json, DateTimeOffset BuiltAt)? _built;

    public async Task<IResult> AnswerAsync(CancellationToken cancellationToken)
    {
        if (_built is not { } built || DateTimeOffset.UtcNow - built.BuiltAt > KeptFor)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                if (_built is not { } current || DateTimeOffset.UtcNow - current.BuiltAt > KeptFor)
                    _built = (await BuildAsync(cancellationToken), DateTimeOffset.UtcNow);
            }
            catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException or InvalidOperationException
                || ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return Problems.Result(ErrorCodes.UpstreamUnavailable, "The orchestrator did not give its part of the document; retry.");
            }
            finally
            {
                _gate.Release();
            }
        }
        return Results.Text(_built!.Value.Json, "application/json");
    }

    private async Task<string> BuildAsync(CancellationToken cancellationToken)
    {
        var merged = await orchestrator.GetApiDocumentAsync(cancellationToken);
        // The orchestrator names its own address; clients reach the API where they read the document (no servers: relative to it).
        merged.Remove("servers");
        var own = JsonNode.Parse(await (await gateway.GetOpenApiDocumentAsync(cancellationToken)).SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1, cancellationToken))!.AsObject();
        MergeMembers(merged, own, "paths", deep: true);
        var components = merged["components"] as JsonObject ?? (JsonObject)(merged["components"] = new JsonObject());
        foreach (var section in new[] { "schemas", "securitySchemes" })
        {
            if (own["components"]?[section] is JsonObject)
                MergeMembers(components, (JsonObject)own["components"]!, section, deep: false);
        }
        if (own["tags"] is JsonArray ownTags)
        {
            var tags = merged["tags"] as JsonArray ?? (JsonArray)(merged["tags"] = new JsonArray());
            var names = tags.Select(t => t?["name"]?.GetValue<string>()).ToHashSet();
            foreach (var tag in ownTags.Where(t => !names.Contains(t?["name"]?.GetValue<string>())))
                tags.Add(tag!.DeepClone());
        }
        return merged.ToJsonString();
    }

    /// <summary>Adds <paramref name="from"/>'s members of <paramref name="section"/> to <paramref name="into"/>'s; with <paramref name="deep"/>, a path both have gets the methods of both.</summary>
    private static void MergeMembers(JsonObject into, JsonObject from, string section, bool deep)
    {
        if (from[section] is not JsonObject source)
            return;
        var target = into[section] as JsonObject ?? (JsonObject)(into[section] = new JsonObject());
        foreach (var (name, value) in source)
        {
            if (deep && target[name] is JsonObject existing && value is JsonObject methods)
            {
                foreach (var (method, operation) in methods)
                    existing[method] ??= operation!.DeepClone();
            }
            else
            {
                target[name] ??= value!.DeepClone();
            }
        }
    }
}
