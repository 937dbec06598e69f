using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;
using OpenHvx.Orchestrator.Actions;

namespace OpenHvx.Orchestrator.Api;

/// <summary>
/// The request body of <c>POST /tasks</c> in the document: one envelope schema per action (its <c>action</c>, <c>target</c> rules and its data
/// record's schema), chosen by <c>action</c>. The handler reads the body itself, so nothing else would tell clients its shape.
/// </summary>
internal sealed class TaskRequestSchemas(TaskActionCatalog actions) : IOpenApiDocumentTransformer
{
    private static readonly System.Text.Json.JsonElement EmptyObject = System.Text.Json.JsonDocument.Parse("{}").RootElement;

    public async Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var name in actions.Names)
        {
            var type = actions.Get(name).DataType;
            document.AddComponent(type.Name, await context.GetOrCreateSchemaAsync(type, null, cancellationToken));
        }
        foreach (var admin in new[] { true, false })
        {
            var path = (admin ? "/api/v1/admin" : "/api/v1/tenant") + "/tasks";
            if (document.Paths.TryGetValue(path, out var item) && item.Operations?.TryGetValue(HttpMethod.Post, out var submit) == true)
                submit.RequestBody = RequestBody(document, admin);
        }
    }

    private OpenApiRequestBody RequestBody(OpenApiDocument document, bool admin)
    {
        var mapping = new Dictionary<string, OpenApiSchemaReference>();
        foreach (var name in actions.NamesFor(admin).Order(StringComparer.Ordinal))
        {
            var id = $"{(admin ? "Admin" : "Tenant")}Task.{name}";
            document.AddComponent<IOpenApiSchema>(id, Envelope(document, actions.Get(name), admin));
            mapping[name] = new OpenApiSchemaReference(id, document);
        }
        return new OpenApiRequestBody
        {
            Required = true,
            Description = "A task: the action, what it acts on, and its data. Unknown members are refused; every field error is reported at once (422 ERR_VALIDATION).",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        OneOf = [.. mapping.Values],
                        Discriminator = new OpenApiDiscriminator { PropertyName = "action", Mapping = mapping },
                    },
                    Examples = new Dictionary<string, IOpenApiExample>
                    {
                        ["vm.create"] = new OpenApiExample { Summary = "A VM", Value = Example(admin) },
                    },
                },
            },
        };
    }

    private static OpenApiSchema Envelope(OpenApiDocument document, ITaskAction action, bool admin)
    {
        var target = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            AdditionalPropertiesAllowed = false,
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["kind"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create(action.TargetKind)] },
                ["refId"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid", Description = "The VM's id (actions on an existing VM)." },
            },
        };
        if (admin)
            target.Properties["agentId"] = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = Identifiers.AgentIdRule, Description = "Pins the task to this agent." };
        if (action.TargetsVm)
            target.Required = new HashSet<string> { "refId" };

        var envelope = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            AdditionalPropertiesAllowed = false,
            Description = $"The task {action.Name}.",
            Required = new HashSet<string> { "action" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["action"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create(action.Name)] },
                ["tenantId"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String, Pattern = Identifiers.TenantIdRule,
                    Description = admin ? "The tenant the task acts for." : "Optional: must be the token's tenant.",
                },
                ["target"] = target,
                ["data"] = new OpenApiSchemaReference(action.DataType.Name, document),
            },
        };
        if (admin)
            envelope.Required.Add("tenantId");
        if (action.TargetsVm)
            envelope.Required.Add("target");
        // An absent data is read as {}: it is required where {} breaks the data's rules.
        if (ActionData.Read(action.DataType, EmptyObject, (_, _) => { }) is null)
            envelope.Required.Add("data");
        return envelope;
    }

    private static JsonObject Example(bool admin)
    {
        var example = new JsonObject
        {
            ["action"] = ActionNames.VmCreate,
            ["data"] = new JsonObject { ["name"] = "web-01", ["cpu"] = 2, ["ram"] = "4GB", ["imageId"] = "Rocky-10-GenericCloud-Base.latest" },
        };
        if (admin)
            example["tenantId"] = "test1";
        return example;
    }
}
