using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Cli.Logging;

/// <summary>
/// Applies "log:level" and "log:levels" in front of the sinks: each category's level is worked out
/// once, when its logger is made (<see cref="LogSettings.LevelOf"/>: the longest matching prefix,
/// whole dotted segments, any case), so a disabled level costs one comparison.
/// </summary>
/// <remarks>
/// <para>
/// Not Serilog's MinimumLevel.Override: that compares prefixes with their case, and settings from
/// the environment arrive lower-cased (KAZE_LOG__LEVELS__KAZE.SIDECAR.CORRAL → "kaze.sidecar.corral").
/// </para>
/// <para>
/// The sinks are made on first use (the first record that passes its area's level, or a scope),
/// not with the provider: a run that logs nothing, as `kaze run -- true` at the default level,
/// never loads the Serilog pipeline. Pass them ready-made (<see cref="AreaLevelLoggerProvider(ILoggerProvider, LogSettings)"/>)
/// where a problem with a sink must show at once, as a log file that cannot be opened.
/// </para>
/// </remarks>
internal sealed class AreaLevelLoggerProvider : ILoggerProvider
{
    private readonly LogSettings _settings;
    private readonly Lazy<ILoggerProvider> _sinks;

    /// <summary>Sinks made by <paramref name="createSinks"/> when the first record needs them.</summary>
    public AreaLevelLoggerProvider(Func<ILoggerProvider> createSinks, LogSettings settings)
    {
        _settings = settings;
        _sinks = new Lazy<ILoggerProvider>(createSinks, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Sinks made already.</summary>
    public AreaLevelLoggerProvider(ILoggerProvider sinks, LogSettings settings)
    {
        _settings = settings;
        _sinks = new Lazy<ILoggerProvider>(sinks);
    }

    public ILogger CreateLogger(string categoryName)
    {
        categoryName ??= "";
        return new AreaLogger(this, categoryName, _settings.LevelOf(categoryName));
    }

    public void Dispose()
    {
        if (_sinks.IsValueCreated)
        {
            _sinks.Value.Dispose();
        }
    }

    private sealed class AreaLogger(AreaLevelLoggerProvider provider, string category, LogLevel minimum) : ILogger
    {
        // The sinks' logger for this category, made with the first record or scope that needs it.
        private ILogger? _inner;

        private ILogger Inner => _inner ??= provider._sinks.Value.CreateLogger(category);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => Inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
