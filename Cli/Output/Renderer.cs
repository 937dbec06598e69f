using System.Text.Json;
using OpenHvx.Cli.Api;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OpenHvx.Cli.Output;

/// <summary>
/// Writes results to stdout (a table, or the API's JSON untouched) and everything else (progress, errors) to stderr, so that
/// stdout carries nothing but the result.
/// </summary>
public sealed class Renderer
{
    /// <summary>Columns when stdout is not a terminal: wide enough that ids are never wrapped.</summary>
    private const int PipeWidth = 250;

    public Renderer(CliIo io, OutputFormat format)
    {
        Io = io;
        Format = format;
        Out = Console(io.Out, io.OutputIsTerminal);
        Error = Console(io.Error, io.ErrorIsTerminal);
    }

    public CliIo Io { get; }
    public OutputFormat Format { get; }
    public IAnsiConsole Out { get; }
    public IAnsiConsole Error { get; }

    private static IAnsiConsole Console(TextWriter writer, bool terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
            console.Profile.Width = PipeWidth;
        return console;
    }

    /// <summary>The answer as JSON, or as what <paramref name="table"/> makes of it.</summary>
    public void Result(ApiResponse response, Func<JsonElement, IRenderable> table)
    {
        if (Format == OutputFormat.Json)
            Io.Out.WriteLine(response.Raw);
        else
            Out.Write(table(response.Json));
    }

    public void Progress(string text) => Error.MarkupLine(text);

    /// <summary>One row per element, one column per (header, cell).</summary>
    public static Table Rows(IEnumerable<JsonElement> rows, params (string Header, Func<JsonElement, string> Cell)[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var (header, _) in columns)
            table.AddColumn(new TableColumn(header).NoWrap());
        foreach (var row in rows)
            table.AddRow(columns.Select(c => (IRenderable)new Text(c.Cell(row))).ToArray());
        return table;
    }

    /// <summary>Every member of an object as a name-value row; objects and arrays as compact JSON.</summary>
    public static Table Properties(JsonElement element, params string[] only)
    {
        var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
        foreach (var member in element.EnumerateObject().Where(m => only.Length == 0 || only.Contains(m.Name)))
            table.AddRow(new Text(member.Name), new Text(Text(member.Value)));
        return table;
    }

    /// <summary>A member's value as text ("" when absent or null).</summary>
    public static string Field(JsonElement element, string path)
    {
        foreach (var name in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
                return "";
        }
        return Text(element);
    }

    public static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        _ => value.GetRawText(),
    };
}
