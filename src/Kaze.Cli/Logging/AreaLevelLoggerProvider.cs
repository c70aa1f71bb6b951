using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Cli.Logging;

/// <summary>
/// Applies "log:level" and "log:levels" in front of the sinks: each category's level is worked out
/// once, when its logger is made (<see cref="LogSettings.LevelOf"/>: the longest matching prefix,
/// whole dotted segments, any case), so a disabled level costs one comparison.
/// </summary>
/// <remarks>
/// Not Serilog's MinimumLevel.Override: that compares prefixes with their case, and settings from
/// the environment arrive lower-cased (KAZE_LOG__LEVELS__KAZE.SIDECAR.CORRAL → "kaze.sidecar.corral").
/// </remarks>
internal sealed class AreaLevelLoggerProvider(ILoggerProvider sinks, LogSettings settings) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new AreaLogger(sinks.CreateLogger(categoryName), settings.LevelOf(categoryName ?? ""));

    public void Dispose() => sinks.Dispose();

    private sealed class AreaLogger(ILogger inner, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
