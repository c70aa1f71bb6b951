using Kaze.Cli.Logging;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>The level filter in front of kaze's sinks (src/Kaze.Cli/Logging/AreaLevelLoggerProvider.cs): sinks made on first use.</summary>
public sealed class AreaLevelLoggerProviderTests
{
    [Fact]
    public void Sinks_NothingPassesItsLevel_AreNeverMade()
    {
        int made = 0;
        var provider = new AreaLevelLoggerProvider(() => { made++; return new CountingProvider(); }, new LogSettings { Level = LogLevel.Warning });

        ILogger logger = provider.CreateLogger("Kaze.Sidecar");
        logger.LogInformation("below the level");
        provider.Dispose();

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.Equal(0, made);
    }

    [Fact]
    public void Sinks_FirstRecordThatPasses_MakesThemOnceAndDisposeDisposesThem()
    {
        int made = 0;
        var sinks = new CountingProvider();
        var provider = new AreaLevelLoggerProvider(() => { made++; return sinks; }, new LogSettings { Level = LogLevel.Warning });

        provider.CreateLogger("Kaze.Sidecar").LogWarning("one");
        provider.CreateLogger("Kaze.Edge").LogError("two");
        provider.CreateLogger("Kaze.Edge").LogDebug("filtered");
        provider.Dispose();

        Assert.Equal(1, made);
        Assert.Equal(2, sinks.Records);
        Assert.True(sinks.Disposed);
    }

    private sealed class CountingProvider : ILoggerProvider, ILogger
    {
        public int Records { get; private set; }

        public bool Disposed { get; private set; }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => Records++;

        public void Dispose() => Disposed = true;
    }
}
