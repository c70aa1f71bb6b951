using Kaze.Cli.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>kaze's logger factory (src/Kaze.Cli/Logging/KazeLoggerFactory.cs): every provider, added ones too, disposed once.</summary>
public sealed class KazeLoggerFactoryTests
{
    [Fact]
    public void CreateLogger_SameCategory_SameLogger()
    {
        using var factory = new KazeLoggerFactory(new RecordingProvider("a"));

        Assert.Same(factory.CreateLogger("Kaze.Run"), factory.CreateLogger("Kaze.Run"));
        Assert.NotSame(factory.CreateLogger("Kaze.Run"), factory.CreateLogger("Kaze.Edge"));
    }

    [Fact]
    public void AddProvider_ServesLoggersMadeBeforeAndAfter()
    {
        var first = new RecordingProvider("a");
        var second = new RecordingProvider("b");
        using var factory = new KazeLoggerFactory(first);
        ILogger before = factory.CreateLogger("Kaze.Run");

        factory.AddProvider(second);
        before.LogWarning("one");
        factory.CreateLogger("Kaze.Edge").LogError("two");

        Assert.Equal(["Kaze.Run: one", "Kaze.Edge: two"], first.Lines);
        Assert.Equal(["Kaze.Run: one", "Kaze.Edge: two"], second.Lines);
    }

    [Fact]
    public void Log_OneProviderThrows_OthersStillGetTheRecord()
    {
        var good = new RecordingProvider("good");
        using var factory = new KazeLoggerFactory(new RecordingProvider("bad") { Throws = true });
        factory.AddProvider(good);

        Assert.Throws<AggregateException>(() => factory.CreateLogger("Kaze.Run").LogWarning("one"));
        Assert.Equal(["Kaze.Run: one"], good.Lines);
    }

    [Fact]
    public void IsEnabled_AnyProvider()
    {
        using var factory = new KazeLoggerFactory(new RecordingProvider("a") { Minimum = LogLevel.Error });
        ILogger logger = factory.CreateLogger("Kaze.Run");
        Assert.False(logger.IsEnabled(LogLevel.Warning));

        factory.AddProvider(new RecordingProvider("b") { Minimum = LogLevel.Warning });

        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.False(logger.IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void Dispose_DisposesEveryProviderOnce()
    {
        var first = new RecordingProvider("a");
        var second = new RecordingProvider("b");
        var factory = new KazeLoggerFactory(first);
        factory.AddProvider(second);

        factory.Dispose();
        factory.Dispose();

        Assert.Equal(1, first.Disposals);
        Assert.Equal(1, second.Disposals);
        Assert.Throws<ObjectDisposedException>(() => factory.CreateLogger("Kaze.Run"));
    }

    private sealed class RecordingProvider(string name) : ILoggerProvider
    {
        public List<string> Lines { get; } = [];

        public bool Throws { get; init; }

        public LogLevel Minimum { get; init; } = LogLevel.Trace;

        public int Disposals { get; private set; }

        public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

        public void Dispose() => Disposals++;

        public override string ToString() => name;

        private sealed class Recorder(RecordingProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= provider.Minimum;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (provider.Throws)
                {
                    throw new InvalidOperationException("sink broken");
                }

                provider.Lines.Add($"{category}: {formatter(state, exception)}");
            }
        }
    }
}
