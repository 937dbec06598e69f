using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;

namespace OpenHvx.Contracts.Actions.Rules;

/// <summary>
/// A declarative rule on a member of an action's data: it validates the value (as DataAnnotations do) and says, as JSON Schema keywords,
/// what it allows, so that the OpenAPI document, the CLI and the console show the same rule the API enforces.
/// </summary>
public abstract class SchemaRuleAttribute(string message) : ValidationAttribute(message)
{
    /// <summary>The JSON Schema keywords of this rule (<c>pattern</c>, <c>maxLength</c>, <c>items</c>, ...), merged into the member's schema.</summary>
    public abstract JsonObject SchemaKeywords { get; }

    /// <summary>The message alone: field errors are keyed by the member's path already.</summary>
    public override string FormatErrorMessage(string name) => ErrorMessageString;
}
