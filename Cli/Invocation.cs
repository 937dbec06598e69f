using System.CommandLine;
using OpenHvx.Cli.Api;
using OpenHvx.Cli.Auth;
using OpenHvx.Cli.Output;

namespace OpenHvx.Cli;

/// <summary>One command's run: what was parsed, where output goes, and the API as the signed-in caller (opened on first use).</summary>
public sealed class Invocation(ParseResult parse, CliApp app, CancellationToken cancellationToken)
{
    private ApiClient? _api;

    public ParseResult Parse { get; } = parse;
    public CancellationToken CancellationToken { get; } = cancellationToken;
    public CliApp App { get; } = app;
    public Renderer Renderer { get; } = new(app.Io, parse.GetValue(CliApp.OutputOption));

    public ApiClient Api => _api ??= new ApiClient(App.Http, Session.Open(App.Environment, App.Http));

    /// <summary>The API for an admin-only command: a tenant's token is refused here, before a request to a route it has no half of.</summary>
    public ApiClient AdminApi => Api.Session.IsAdmin ? Api
        : throw new CliException(ExitCodes.Auth, $"`{Parse.CommandResult.Command.Name}` is an admin command and this login is a tenant user's (an admin signs in with --audience admin).");

    public T? Value<T>(Option<T> option) => Parse.GetValue(option);

    public T Value<T>(Argument<T> argument) => Parse.GetValue(argument)!;
}
