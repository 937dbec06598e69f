using System.Text.Json;
using OpenHvx.Cli.Output;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Commands.Tasks;

/// <summary>How tasks look in tables (the admin's view has agentId; a tenant's does not).</summary>
public static class TaskTables
{
    private static readonly string[] DocumentFields =
        ["taskId", "tenantId", "action", "target", "status", "state", "agentId", "data", "result", "error", "retryOf", "retriedBy", "createdAt", "updatedAt"];

    public static IRenderable Document(JsonElement task)
    {
        var properties = Renderer.Properties(task, DocumentFields);
        if (!task.TryGetProperty("timeline", out var timeline) || timeline.ValueKind != JsonValueKind.Array)
            return properties;
        return new Rows(properties, Renderer.Rows(timeline.EnumerateArray(), ("at", e => Renderer.Field(e, "at")), ("state", e => Renderer.Field(e, "state")),
            ("status", e => Renderer.Field(e, "status")), ("note", e => Renderer.Field(e, "note"))));
    }

    /// <summary>A 202's body: the new task's id, status, state and where to read it.</summary>
    public static IRenderable Accepted(JsonElement accepted) => Renderer.Properties(accepted);

    public static IRenderable List(JsonElement page)
    {
        var items = page.TryGetProperty("items", out var i) ? i.EnumerateArray().ToList() : [];
        var admin = items.Any(t => t.TryGetProperty("agentId", out _));
        (string, Func<JsonElement, string>)[] columns =
        [
            ("taskId", t => Renderer.Field(t, "taskId")), ("tenant", t => Renderer.Field(t, "tenantId")), ("action", t => Renderer.Field(t, "action")),
            ("status", t => Renderer.Field(t, "status")), ("state", t => Renderer.Field(t, "state")), ("vm", t => Renderer.Field(t, "target.refId")),
            ("created", t => Renderer.Field(t, "createdAt")),
        ];
        return Renderer.Rows(items, admin ? [.. columns, ("agent", t => Renderer.Field(t, "agentId"))] : columns);
    }
}
