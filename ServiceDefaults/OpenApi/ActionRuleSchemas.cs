using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenHvx.Contracts.Actions;
using OpenHvx.Contracts.Actions.Rules;

namespace OpenHvx.ServiceDefaults.OpenApi;

/// <summary>
/// The rules of Contracts/Actions in the schemas: each member's <see cref="SchemaRuleAttribute"/> keywords and <c>[AllowedValues]</c> as an
/// enum; a data record takes no member it does not declare (the API refuses unknown fields).
/// </summary>
internal sealed class ActionRuleSchemas : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo?.AttributeProvider is PropertyInfo property)
        {
            foreach (var rule in property.GetCustomAttributes<SchemaRuleAttribute>())
                SchemaKeywords.ApplyTo(schema, rule.SchemaKeywords);
            // A member whose type has a converter (MemorySize) gets no description from the generator.
            schema.Description ??= property.GetCustomAttribute<System.ComponentModel.DescriptionAttribute>()?.Description;
            if (property.GetCustomAttribute<AllowedValuesAttribute>() is { } allowed)
                schema.Enum = [.. allowed.Values.Select(v => System.Text.Json.JsonSerializer.SerializeToNode(v)!)];
        }
        var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        if (type.Namespace == typeof(ActionData).Namespace && ActionData.IsRecord(type))
        {
            schema.AdditionalPropertiesAllowed = false;
            foreach (var rule in type.GetCustomAttributes<SchemaRuleAttribute>())
                SchemaKeywords.ApplyTo(schema, rule.SchemaKeywords);
        }
        return Task.CompletedTask;
    }
}
