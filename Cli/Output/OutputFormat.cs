namespace OpenHvx.Cli.Output;

public enum OutputFormat
{
    /// <summary>Tables for people (Spectre.Console).</summary>
    Table,
    /// <summary>The API's JSON as it came, one document, for jq.</summary>
    Json,
}
