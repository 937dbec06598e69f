using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace OpenHvx.ServiceDefaults.OpenApi;

/// <summary>Writes JSON Schema keywords (as the rules of Contracts/Actions describe themselves) into an OpenAPI schema.</summary>
public static class SchemaKeywords
{
    public static void ApplyTo(OpenApiSchema schema, JsonObject keywords)
    {
        foreach (var (name, value) in keywords)
        {
            switch (name)
            {
                case "type": schema.Type = TypeOf(value!.GetValue<string>()); break;
                case "pattern": schema.Pattern = value!.GetValue<string>(); break;
                case "minLength": schema.MinLength = value!.GetValue<int>(); break;
                case "maxLength": schema.MaxLength = value!.GetValue<int>(); break;
                case "maxItems": schema.MaxItems = value!.GetValue<int>(); break;
                case "minProperties": schema.MinProperties = value!.GetValue<int>(); break;
                case "minimum": schema.Minimum = value!.ToJsonString(); break;
                case "maximum": schema.Maximum = value!.ToJsonString(); break;
                case "description": schema.Description = value!.GetValue<string>(); break;
                case "examples": schema.Examples = [.. value!.AsArray().Select(e => e!.DeepClone())]; break;
                case "items":
                    var items = new OpenApiSchema();
                    ApplyTo(items, value!.AsObject());
                    schema.Items = items;
                    break;
                case "oneOf":
                    // The alternatives carry their own types: the member's own type (from the CLR type) would contradict them.
                    schema.Type = null;
                    schema.OneOf = [.. value!.AsArray().Select(alternative =>
                    {
                        var one = new OpenApiSchema();
                        ApplyTo(one, alternative!.AsObject());
                        return (IOpenApiSchema)one;
                    })];
                    break;
                default: throw new NotSupportedException($"JSON Schema keyword '{name}' is not mapped to OpenAPI.");
            }
        }
    }

    private static JsonSchemaType TypeOf(string type) => type switch
    {
        "string" => JsonSchemaType.String,
        "integer" => JsonSchemaType.Integer,
        "number" => JsonSchemaType.Number,
        "boolean" => JsonSchemaType.Boolean,
        "object" => JsonSchemaType.Object,
        "array" => JsonSchemaType.Array,
        _ => throw new NotSupportedException($"JSON Schema type '{type}'."),
    };
}
