using System.CommandLine;
using Spectre.Console;

namespace OpenHvx.Cli.Auth;

/// <summary><c>openhvx logout</c>: removes the stored tokens.</summary>
public static class LogoutCommand
{
    public static Command Create(CliApp app)
    {
        var command = new Command("logout", "Remove the stored login");
        app.Handle(command, run =>
        {
            var store = new CredentialStore(app.Environment.ConfigFolder);
            run.Renderer.Error.WriteLine(store.Delete() ? $"Signed out: {store.Path} removed." : "Not signed in.");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
