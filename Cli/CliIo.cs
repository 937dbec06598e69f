namespace OpenHvx.Cli;

/// <summary>Where a run reads and writes: the process's console, or writers a test gives.</summary>
public sealed record CliIo(TextWriter Out, TextWriter Error, TextReader In, bool OutputIsTerminal = false, bool ErrorIsTerminal = false, bool InputIsTerminal = false)
{
    public static CliIo System()
        => new(Console.Out, Console.Error, Console.In, !Console.IsOutputRedirected, !Console.IsErrorRedirected, !Console.IsInputRedirected);
}
