using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using OpenHvx.Cli.Auth;
using OpenHvx.Cli.Commands.Agents;
using OpenHvx.Cli.Commands.Quotas;
using OpenHvx.Cli.Commands.Tasks;
using OpenHvx.Cli.Commands.Tenants;
using OpenHvx.Cli.Commands.Vm;
using OpenHvx.Cli.Output;

namespace OpenHvx.Cli;

/// <summary>
/// The <c>openhvx</c> command line. <see cref="RunAsync"/> is the whole program: the process's <c>Main</c> calls it with the
/// console and the environment, tests with writers and variables of their own.
/// </summary>
public sealed class CliApp
{
    public static readonly Option<OutputFormat> OutputOption = new("--output", "-o")
    {
        Description = "table (for people) or json (the API's JSON as is, one document, for jq)",
        HelpName = "table|json",
        DefaultValueFactory = _ => OutputFormat.Table,
        Recursive = true,
    };

    private CliApp(CliIo io, CliEnvironment environment, HttpClient http)
    {
        Io = io;
        Environment = environment;
        Http = http;
    }

    public CliIo Io { get; }
    public CliEnvironment Environment { get; }
    public HttpClient Http { get; }

    public static async Task<int> RunAsync(string[] args, CliIo io, CliEnvironment environment, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("openhvx-cli/" + typeof(CliApp).Assembly.GetName().Version?.ToString(3));
        var app = new CliApp(io, environment, http);
        var root = app.Root();
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors)
                await io.Error.WriteLineAsync("error: " + error.Message);
            var path = parse.Tokens.TakeWhile(t => t.Type == TokenType.Command).Select(t => t.Value).Prepend("openhvx");
            await io.Error.WriteLineAsync($"See `{string.Join(' ', path)} --help`.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = io.Out, Error = io.Error, EnableDefaultExceptionHandler = false }, cancellationToken);
    }

    private RootCommand Root()
    {
        var root = new RootCommand("openhvx: the command line of the OpenHVX control plane (VMs on Hyper-V as tasks).")
        {
            OutputOption,
            LoginCommand.Create(this),
            LogoutCommand.Create(this),
            VmCommands.Create(this),
            TaskCommands.Create(this),
            AgentCommands.Create(this),
            TenantCommands.Create(this),
            QuotaCommands.Create(this),
        };
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new EpilogHelpAction((HelpAction)help.Action!);
        return root;
    }

    /// <summary>Runs <paramref name="action"/> as the command's action: a <see cref="CliException"/> becomes its line on stderr and its exit code.</summary>
    public void Handle(Command command, Func<Invocation, Task<int>> action)
        => command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return await action(new Invocation(parse, this, cancellationToken));
            }
            catch (CliException ex)
            {
                await Io.Error.WriteLineAsync("error: " + ex.Message);
                return ex.ExitCode;
            }
            catch (HttpRequestException ex)
            {
                await Io.Error.WriteLineAsync($"error: Cannot reach the gateway: {ex.Message}");
                return ExitCodes.Unavailable;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }
        });

    /// <summary>The default help, then the exit codes and environment variables.</summary>
    private sealed class EpilogHelpAction(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var result = help.Invoke(parseResult);
            parseResult.InvocationConfiguration.Output.WriteLine(ExitCodes.Help);
            return result;
        }
    }
}
