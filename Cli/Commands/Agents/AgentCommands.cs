using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenHvx.Cli.Output;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Commands.Agents;

/// <summary><c>openhvx agent list|drain|resume</c> (admins).</summary>
public static class AgentCommands
{
    public static Command Create(CliApp app) => new("agent", "Hyper-V hosts' agents (admins)")
    {
        ReadCommand.Create(app, "list", "Agents: online, status, capacity and what is free", _ => "/agents", agents => Table(agents.EnumerateArray()), adminOnly: true),
        SetStatus(app, "drain", "draining", "Elect the agent for no new task; its tasks in flight finish"),
        SetStatus(app, "resume", "active", "Elect the agent again"),
    };

    private static Command SetStatus(CliApp app, string name, string status, string description)
    {
        var id = new Argument<string>("agentId") { Description = "The agent's id" };
        var command = new Command(name, description) { id };
        app.Handle(command, async run =>
        {
            var agent = await run.AdminApi.SendAsync(HttpMethod.Patch, "/agents/" + Uri.EscapeDataString(run.Value(id)), new JsonObject { ["status"] = status },
                cancellationToken: run.CancellationToken);
            run.Renderer.Result(agent, a => Table([a]));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static IRenderable Table(IEnumerable<JsonElement> agents) => Renderer.Rows(agents,
        ("agentId", a => Renderer.Field(a, "agentId")), ("host", a => Renderer.Field(a, "host")), ("online", a => Renderer.Field(a, "online")),
        ("status", a => Renderer.Field(a, "status")), ("vms", a => Renderer.Field(a, "vmCount")),
        ("cpu free/total", a => $"{Renderer.Field(a, "free.cpu")}/{Renderer.Field(a, "capacity.cpu")}"),
        ("memory MB free/total", a => $"{Renderer.Field(a, "free.memoryMB")}/{Renderer.Field(a, "capacity.memoryMB")}"),
        ("heartbeat age s", a => Renderer.Field(a, "heartbeatAgeSeconds")));
}
