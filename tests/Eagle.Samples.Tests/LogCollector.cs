using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Eagle.Samples.Tests;

/// <summary>Keeps every log line a server writes (level, category, message, whether an exception came with it).</summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogLine> lines = new();

    public IReadOnlyList<LogLine> Lines => [.. lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    internal sealed record LogLine(LogLevel Level, string Category, string Message, Exception? Exception);

    private sealed class Logger(LogCollector collector, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            collector.lines.Enqueue(new LogLine(logLevel, category, formatter(state, exception), exception));
    }
}
