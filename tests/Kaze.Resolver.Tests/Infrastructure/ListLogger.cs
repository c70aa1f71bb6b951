using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>A logger that keeps what it was given, for assertions on what was reported and how often.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId, formatter(state, exception), exception));

    public int Count(int eventId) => Entries.Count(e => e.Id.Id == eventId);
}
