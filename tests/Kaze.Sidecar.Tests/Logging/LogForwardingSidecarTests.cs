using System.Text.RegularExpressions;
using Kaze.Cli;
using Kaze.Host;
using Kaze.Host.Logging;
using Kaze.Protocol;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>
/// A host's log record end to end in one process: KazeLoggerProvider → the channel → a real
/// sidecar with the LogForwardingPlugin → the sidecar's loggers (and kaze's own sinks).
/// </summary>
public sealed class LogForwardingSidecarTests
{
    private static readonly Ident Self = Ident.Parse("0.0.0.1");

    [Fact]
    public async Task HostRecord_ReachesTheSidecarsLoggersTaggedAndIsNotRouted()
    {
        var captured = new CapturedLogs();
        await using Running running = await StartAsync(logging => logging.AddProvider(captured));

        running.Provider.CreateLogger("Orders.Api").LogWarning(new EventId(3, "Late"), "order {Id} is late", 42);

        CapturedLogs.Entry entry = await captured.WaitForAsync(e => e.Category == "Host.Orders.Api", "the host's record in the sidecar's log");
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Equal("order 42 is late", entry.Message);
        Assert.Equal(new EventId(3, "Late"), entry.EventId);
        Assert.Equal("0.0.0.1", entry.Properties["HostIdent"]);
        LogForwardingCounters counters = running.App.Services.GetRequiredService<LogForwardingCounters>();
        Assert.Equal(1, counters.Written);
        // Taken out before the router: nothing went back to the host.
        Assert.Equal(0, running.App.Node.RouterCounters.Delivered);
    }

    [Fact]
    public async Task HostRecord_OnKazesStderr_AsKazeRunShowsIt()
    {
        var stderr = new StringWriter();
        using ILoggerFactory kazeLoggers = KazeLogging.Create(new LogSettings { Level = LogLevel.Information }, TextWriter.Synchronized(stderr));
        var captured = new CapturedLogs();
        await using (Running running = await StartAsync(logging => logging.AddProvider(new ForwardingLoggerProvider(kazeLoggers)).AddProvider(captured)))
        {
            running.Provider.CreateLogger("Orders.Worker").LogInformation("order {Id} shipped", 7);
            await captured.WaitForAsync(e => e.Category == "Host.Orders.Worker", "the host's record in the sidecar's log");
        }

        Assert.Contains(
            stderr.ToString().Split('\n'),
            line => Regex.IsMatch(line, @"^\[kaze \d{2}:\d{2}:\d{2}\.\d{3} INF host 0\.0\.0\.1 Worker\] order 7 shipped$"));
    }

    private static async Task<Running> StartAsync(Action<ILoggingBuilder> logging)
    {
        var settings = KazeSettings.Defaults.With(SettingsCatalog.Ident, Self).With(SettingsCatalog.ChannelName, "kaze-log-test-" + Guid.NewGuid().ToString("N")[..12]).With(SettingsCatalog.Listen, null);
        SidecarApp app = SidecarApp.Build(settings, withHost: true, logging, configuration: null, plugins: [new LogForwardingPlugin()]);
        try
        {
            await app.StartAsync().Within("the sidecar to start");
            KazeClient client = KazeClient.Connect(new SidecarEndpoint(app.Node.Edge.ChannelName, Self, Environment.ProcessId));
            client.Start();
            return new Running(app, client, new KazeLoggerProvider(client));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private sealed record Running(SidecarApp App, KazeClient Client, KazeLoggerProvider Provider) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Provider.Dispose();
            await Client.DisposeAsync();
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
