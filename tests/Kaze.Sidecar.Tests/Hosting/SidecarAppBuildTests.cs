using Kaze.Plugin;
using Kaze.Service;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Hosting;

/// <summary>Composing a sidecar (src/Kaze.Sidecar/Hosting/SidecarApp.cs): failures and the caller's logger factory.</summary>
public sealed class SidecarAppBuildTests
{
    [Fact]
    public void Build_PluginPipelineThrows_DisposesWhatWasBuilt()
    {
        var plugin = new ResourcePlugin { ThrowInPipeline = true };

        PluginException e = Assert.Throws<PluginException>(() => SidecarApp.Build(KazeSettings.Defaults, withHost: true, _ => { }, plugins: [plugin]));

        Assert.Equal("plugin 'resource' failed while adding its middleware: pipeline boom", e.Message);
        Assert.NotNull(plugin.Resource);
        Assert.True(plugin.Resource.Disposed);
    }

    [Fact]
    public void Build_TwoPluginsWithOneName_RefusedBeforeAnythingIsBuilt()
    {
        var first = new ResourcePlugin();
        var second = new ResourcePlugin { NameOverride = "RESOURCE" };

        PluginException e = Assert.Throws<PluginException>(() => SidecarApp.Build(KazeSettings.Defaults, withHost: false, _ => { }, plugins: [first, second]));

        Assert.Equal("RESOURCE", e.Plugin);
        Assert.Contains("already named 'RESOURCE'", e.Message, StringComparison.Ordinal);
        Assert.Null(first.Resource);
    }

    [Fact]
    public async Task Build_WithTheCallersLoggerFactory_ServicesLogThroughItAndItOutlivesTheApp()
    {
        var sink = new RecordingProvider();
        using (var loggers = new LoggerFactory([sink], new LoggerFilterOptions { MinLevel = LogLevel.Trace }))
        {
            var plugin = new ResourcePlugin();
            await using (SidecarApp app = SidecarApp.Build(KazeSettings.Defaults, withHost: false, loggers, plugins: [plugin]))
            {
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Test.Area").LogWarning("through the caller's factory");

                // The Generic Host's own lines are left to the command, but for the critical ones.
                ILogger host = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.Extensions.Hosting.Internal.Host");
                host.LogError("hosting failed");
                host.LogCritical("hosting broke");
            }

            Assert.Equal(["Test.Area: through the caller's factory", "Microsoft.Extensions.Hosting.Internal.Host: hosting broke"], sink.Lines);
            Assert.True(plugin.Resource!.Disposed);

            // Still usable after the app is gone: the caller disposes it.
            loggers.CreateLogger("After").LogWarning("still here");
            Assert.Equal("After: still here", sink.Lines[^1]);
        }
    }

    private sealed class Resource : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    private sealed class ResourcePlugin : IKazePlugin
    {
        public bool ThrowInPipeline { get; init; }

        public Resource? Resource { get; private set; }

        public string? NameOverride { get; init; }

        public string Name => NameOverride ?? "resource";

        public void ConfigureServices(PluginContext context, IServiceCollection services) => services.AddSingleton(_ => new Resource());

        public void ConfigurePipeline(PluginContext context, PipelineBuilder pipeline, IServiceProvider services)
        {
            Resource = services.GetRequiredService<Resource>();
            if (ThrowInPipeline)
            {
                throw new InvalidOperationException("pipeline boom");
            }
        }
    }

    private sealed class RecordingProvider : ILoggerProvider
    {
        private readonly Lock _gate = new();
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_gate)
                {
                    return [.. _lines];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Recorder(RecordingProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    lock (provider._gate)
                    {
                        provider._lines.Add($"{category}: {formatter(state, exception)}");
                    }
                }
            }
        }
    }
}
