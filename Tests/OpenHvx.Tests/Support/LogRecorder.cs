using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OpenHvx.Tests.Support;

/// <summary>A logger that keeps each line's level and text (safe to write from background loops).</summary>
public sealed class LogRecorder : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Text)> _lines = new();

    public List<(LogLevel Level, string Text)> Lines => [.. _lines];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _lines.Enqueue((logLevel, formatter(state, exception)));
}
