using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.HyperVAgent.PowerShell;

public sealed record ScriptOutcome(bool Ok, JsonElement? Output, AgentError? Error)
{
    public static ScriptOutcome Failure(string code, string message, object? details = null)
        => new(false, null, new AgentError(code, message, details is null ? null : JsonSerializer.SerializeToElement(details, JsonSerializerOptions.Web)));
}
