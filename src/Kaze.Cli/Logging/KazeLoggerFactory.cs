using Microsoft.Extensions.Logging;

namespace Kaze.Cli.Logging;

/// <summary>
/// kaze's logger factory: each category's logger writes to every provider, as
/// Microsoft.Extensions.Logging's <see cref="LoggerFactory"/> does, without its filter rules and
/// options (kaze's levels are applied by <see cref="AreaLevelLoggerProvider"/>), whose first use
/// costs `kaze run` several milliseconds of start-up.
/// </summary>
/// <remarks>
/// Loggers are made once per category. A provider added later (a plugin may add one) also serves
/// the loggers made before it. Disposing the factory disposes every provider, once.
/// </remarks>
internal sealed class KazeLoggerFactory : ILoggerFactory
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FanOutLogger> _loggers = new(StringComparer.Ordinal);
    private ILoggerProvider[] _providers;
    private bool _disposed;

    public KazeLoggerFactory(ILoggerProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _providers = [provider];
    }

    public ILogger CreateLogger(string categoryName)
    {
        ArgumentNullException.ThrowIfNull(categoryName);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_loggers.TryGetValue(categoryName, out FanOutLogger? logger))
            {
                var loggers = new ILogger[_providers.Length];
                for (int i = 0; i < loggers.Length; i++)
                {
                    loggers[i] = _providers[i].CreateLogger(categoryName);
                }

                logger = new FanOutLogger(loggers);
                _loggers.Add(categoryName, logger);
            }

            return logger;
        }
    }

    public void AddProvider(ILoggerProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _providers = [.. _providers, provider];
            foreach (KeyValuePair<string, FanOutLogger> logger in _loggers)
            {
                logger.Value.Add(provider.CreateLogger(logger.Key));
            }
        }
    }

    public void Dispose()
    {
        ILoggerProvider[] providers;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            providers = _providers;
        }

        foreach (ILoggerProvider provider in providers)
        {
            provider.Dispose();
        }
    }

    /// <summary>One category's logger: every provider's logger for it.</summary>
    private sealed class FanOutLogger(ILogger[] loggers) : ILogger
    {
        // Replaced whole (never changed in place) when a provider is added: readers need no lock.
        private volatile ILogger[] _loggers = loggers;

        public void Add(ILogger logger) => _loggers = [.. _loggers, logger];

        public bool IsEnabled(LogLevel logLevel)
        {
            foreach (ILogger logger in _loggers)
            {
                if (logger.IsEnabled(logLevel))
                {
                    return true;
                }
            }

            return false;
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ILogger[] loggers = _loggers;
            if (loggers.Length == 1)
            {
                loggers[0].Log(logLevel, eventId, state, exception, formatter);
                return;
            }

            // As Microsoft.Extensions.Logging does: one provider's failure does not keep the record from the others.
            List<Exception>? failures = null;
            foreach (ILogger logger in loggers)
            {
                try
                {
                    logger.Log(logLevel, eventId, state, exception, formatter);
                }
                catch (Exception e)
                {
                    (failures ??= []).Add(e);
                }
            }

            if (failures is not null)
            {
                throw new AggregateException("An error occurred while writing to logger(s).", failures);
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            ILogger[] loggers = _loggers;
            if (loggers.Length == 1)
            {
                return loggers[0].BeginScope(state);
            }

            var scopes = new IDisposable?[loggers.Length];
            for (int i = 0; i < loggers.Length; i++)
            {
                scopes[i] = loggers[i].BeginScope(state);
            }

            return new Scopes(scopes);
        }
    }

    private sealed class Scopes(IDisposable?[] scopes) : IDisposable
    {
        public void Dispose()
        {
            foreach (IDisposable? scope in scopes)
            {
                scope?.Dispose();
            }
        }
    }
}
