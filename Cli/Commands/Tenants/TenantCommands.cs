using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Cli.Commands.Quotas;
using OpenHvx.Cli.Output;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Commands.Tenants;

/// <summary><c>openhvx tenant list|get|create</c> (admins).</summary>
public static class TenantCommands
{
    public static Command Create(CliApp app) => new("tenant", "Tenants (admins)") 
    {
        ReadCommand.Create(app, "list", "Every tenant", _ => "/tenants", tenants => Table(tenants.EnumerateArray()), adminOnly: true),
        Get(app),
        New(app),
    };

    private static Command Get(CliApp app)
    {
        var id = new Argument<string>("tenantId") { Description = "The tenant's id" };
        return ReadCommand.Create(app, "get", "One tenant", run => "/tenants/" + Uri.EscapeDataString(run.Value(id)), tenant => Table([tenant]), adminOnly: true, id);
    }

    private static Command New(CliApp app)
    {
        var id = new Argument<string>("tenantId") { Description = "The new tenant's id: lower-case letters, digits, '_' and '-'" };
        var name = new Option<string>("--name") { Description = "A display name (default: the id)" };
        var limits = new QuotaLimitOptions();
        var command = new Command("create", "A new tenant, active, with limits (default: none)") { id, name };
        limits.AddTo(command);
        app.Handle(command, async run =>
        {
            var body = new JsonObject { ["tenantId"] = run.Value(id) };
            if (run.Value(name) is { } displayName)
                body["name"] = displayName;
            if (limits.Read(run) is { } given)
                body["limits"] = given;
            run.Renderer.Result(await run.AdminApi.SendAsync(HttpMethod.Post, "/tenants", body, cancellationToken: run.CancellationToken), tenant => Table([tenant]));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static IRenderable Table(IEnumerable<JsonElement> tenants) => Renderer.Rows(tenants,
        ("tenantId", t => Renderer.Field(t, "tenantId")), ("name", t => Renderer.Field(t, "name")), ("status", t => Renderer.Field(t, "status")),
        ("cpu", t => Renderer.Field(t, "limits.cpu")), ("memoryMB", t => Renderer.Field(t, "limits.memoryMB")),
        ("storageMB", t => Renderer.Field(t, "limits.storageMB")), ("vmCount", t => Renderer.Field(t, "limits.vmCount")));
}
