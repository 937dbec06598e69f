using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OpenHvx.Cli.Commands.Tasks;

/// <summary><c>--wait</c> and <c>--timeout</c> of the commands that start a task.</summary>
public static partial class WaitOptions
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    [GeneratedRegex(@"\A(?<n>[0-9]{1,7})(?<unit>s|m|h)?\z")]
    private static partial Regex DurationPattern();

    public static Option<bool> Wait() => new("--wait", "-w") { Description = "Follow the task's states until it ends and show its result (exit 1 when it ends FAILED or CANCELED)" };

    public static Option<TimeSpan> Timeout() => new("--timeout")
    {
        Description = "How long to wait: seconds, or 90s, 5m, 1h (default 30m; exit 7 when it runs out)",
        DefaultValueFactory = _ => DefaultTimeout,
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            var match = DurationPattern().Match(text);
            if (!match.Success)
            {
                result.AddError($"--timeout must be seconds, or a number with s, m or h (not '{text}').");
                return default;
            }
            var n = int.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
            return match.Groups["unit"].Value switch { "m" => TimeSpan.FromMinutes(n), "h" => TimeSpan.FromHours(n), _ => TimeSpan.FromSeconds(n) };
        },
    };
}
