using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Formatting;
using Serilog.Templates;

namespace OpenHvx.ServiceDefaults.Logging;

/// <summary>
/// Where log lines go: stdout, one JSON object per line (or readable text), through Serilog as the only provider; which
/// lines are written is still decided by <c>Logging:LogLevel</c> and the filters below.
/// </summary>
public static class LogOutput
{
    public const string FormatSetting = "Logging:Format";

    /// <summary>
    /// One object per line: <c>time</c>, <c>level</c>, <c>category</c>, <c>message</c>, <c>exception</c>, then every property of the
    /// line, among them <c>traceId</c>, <c>spanId</c>, <c>taskId</c>, <c>tenantId</c>, <c>requestId</c> (<see cref="TaskLogEnricher"/>).
    /// </summary>
    private const string JsonTemplate =
        "{ {time: UtcDateTime(@t), level: @l, category: SourceContext, message: @m, exception: @x, ..rest()} }\n";

    private static readonly string[] QuietCategories = ["Microsoft.AspNetCore", "System.Net.Http.HttpClient", "Yarp", "Microsoft.EntityFrameworkCore", "OpenIddict"];

    private const string TextTemplate =
        "[{@t:HH:mm:ss} {@l:u3}] {Substring(SourceContext, LastIndexOf(SourceContext, '.') + 1)}: {@m}{#if taskId is not null} [task {taskId}]{#end}\n{@x}";

    public static void Configure(ILoggingBuilder logging, IConfiguration configuration, LogFormat defaultFormat)
    {
        var chosen = configuration[FormatSetting] is { Length: > 0 } setting ? setting : configuration["OPENHVX_LOG_FORMAT"];
        var format = defaultFormat;
        if (chosen is { Length: > 0 } && !Enum.TryParse(chosen, ignoreCase: true, out format))
            throw new InvalidOperationException($"{FormatSetting} (OPENHVX_LOG_FORMAT) is 'json' or 'text', not '{chosen}'.");
        ITextFormatter formatter = new ExpressionTemplate(format == LogFormat.Json ? JsonTemplate : TextTemplate);
        var logger = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .Enrich.FromLogContext()
            .Enrich.With<TaskLogEnricher>()
            .WriteTo.Console(formatter)
            .CreateLogger();
        logging.ClearProviders();
        // The trace ids come once, from TaskLogEnricher; the host's default adds them again as a scope.
        logging.Configure(options => options.ActivityTrackingOptions = ActivityTrackingOptions.None);
        // The provider alone, not AddSerilog: that one also adds a rule letting every level through to Serilog, over Logging:LogLevel.
        // Made by the container, so that it is disposed (and its sink flushed) when the host stops.
        logging.Services.AddSingleton<ILoggerProvider>(_ => new Serilog.Extensions.Logging.SerilogLoggerProvider(logger, dispose: true));
        // Framework chatter stays out unless Logging:LogLevel names the category: per-request lines of hosting, HttpClient and YARP
        // (RequestLog writes the one line kept), EF Core's commands, OpenIddict's request dumps.
        foreach (var category in QuietCategories)
        {
            if (configuration[$"Logging:LogLevel:{category}"] is null)
                logging.AddFilter(category, LogLevel.Warning);
        }
    }
}
