using Microsoft.Extensions.Logging;

namespace Kaze.Host.Logging;

/// <summary>
/// One category's logger: formats the record on the caller's thread (the state may not outlive
/// the call) and hands it to the provider's queue. Never waits, never throws for a full queue.
/// </summary>
internal sealed class KazeLogger(string category, KazeLoggerProvider provider) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && provider.IsAccepting;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        if (KazeLoggerProvider.IsSendingOnThisThread)
        {
            // Something the sender called logged: sending it would feed the sender itself.
            provider.CountDropped();
            return;
        }

        ArgumentNullException.ThrowIfNull(formatter);
        string message = formatter(state, exception);
        if (string.IsNullOrEmpty(message) && exception is null)
        {
            return;
        }

        int max = provider.MaxMessageLength;
        provider.Enqueue(new LogRecord(
            logLevel,
            category,
            Cut(message ?? "", max),
            exception is null ? null : Cut(exception.ToString(), max),
            eventId.Id,
            eventId.Name,
            DateTimeOffset.UtcNow));
    }

    private static string Cut(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        // Never split a surrogate pair: half of one is not UTF-16 and cannot be encoded.
        int keep = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return string.Concat(text.AsSpan(0, keep), "…[cut]");
    }
}
