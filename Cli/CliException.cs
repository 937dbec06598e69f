namespace OpenHvx.Cli;

/// <summary>A failure with its one-line message (stderr) and the exit code it means.</summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
