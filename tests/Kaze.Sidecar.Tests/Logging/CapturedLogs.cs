using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>Keeps every entry with its category and structured properties; a test can wait for one.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();
    private readonly Lock _gate = new();
    private readonly List<(Func<Entry, bool> Match, TaskCompletionSource<Entry> Found)> _waiters = [];

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Waits (at most 15 s) for an entry that <paramref name="match"/> accepts, including one logged already.</summary>
    public async Task<Entry> WaitForAsync(Func<Entry, bool> match, string what)
    {
        var found = new TaskCompletionSource<Entry>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            Entry? existing = _entries.FirstOrDefault(match);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((match, found));
        }

        try
        {
            return await found.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
            throw new XunitException($"Timed out after 15 s waiting for {what}. Logged: {string.Join(" | ", _entries)}");
        }
    }

    public void Dispose()
    {
    }

    private void Add(Entry entry)
    {
        lock (_gate)
        {
            _entries.Enqueue(entry);
            foreach ((Func<Entry, bool> match, TaskCompletionSource<Entry> found) in _waiters)
            {
                if (match(entry))
                {
                    found.TrySetResult(entry);
                }
            }
        }
    }

    internal sealed record Entry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception, IReadOnlyDictionary<string, object?> Properties)
    {
        public override string ToString() => $"{Category} {Level} {EventId.Id} {Message}";
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var properties = new Dictionary<string, object?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (KeyValuePair<string, object?> pair in pairs)
                {
                    properties[pair.Key] = pair.Value;
                }
            }

            owner.Add(new Entry(category, logLevel, eventId, formatter(state, exception), exception, properties));
        }
    }
}
