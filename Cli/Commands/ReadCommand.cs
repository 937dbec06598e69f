using System.CommandLine;
using System.Text.Json;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Commands;

/// <summary>A command that reads one path of the API and shows the answer (the list and get commands).</summary>
public static class ReadCommand
{
    /// <param name="path">the path under the caller's API base, from what was parsed</param>
    /// <param name="adminOnly">refused to a tenant's login before any request (<see cref="Invocation.AdminApi"/>)</param>
    public static Command Create(CliApp app, string name, string description, Func<Invocation, string> path, Func<JsonElement, IRenderable> table,
        bool adminOnly = false, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            if (symbol is Argument argument)
                command.Add(argument);
            else
                command.Add((Option)symbol);
        }
        app.Handle(command, async run =>
        {
            var api = adminOnly ? run.AdminApi : run.Api;
            run.Renderer.Result(await api.GetAsync(path(run), run.CancellationToken), table);
            return ExitCodes.Ok;
        });
        return command;
    }
}
