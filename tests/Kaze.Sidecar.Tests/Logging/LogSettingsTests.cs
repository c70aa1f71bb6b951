using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>The "log" settings: defaults, validation that names every bad key, levels per area.</summary>
public sealed class LogSettingsTests
{
    [Fact]
    public void Bind_Defaults_WarnTextNoFile()
    {
        LogSettings log = Bind([]);

        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Empty(log.Levels);
        Assert.Equal(LogFormat.Text, log.Format);
        Assert.Null(log.File);
        Assert.Equal(LogRollingInterval.Day, log.RollingInterval);
        Assert.Equal(100L << 20, log.FileSizeLimit);
        Assert.Equal(7, log.RetainedFiles);
    }

    [Fact]
    public void Bind_EverySetting_IsRead()
    {
        LogSettings log = Bind(new()
        {
            ["log:level"] = "info",
            ["log:levels:Kaze.Sidecar.Corral"] = "debug",
            ["log:levels:Host"] = "off",
            ["log:format"] = "JSON",
            ["log:file"] = "/var/log/kaze/kaze.log",
            ["log:rollingInterval"] = "hour",
            ["log:fileSizeLimit"] = "10MiB",
            ["log:retainedFiles"] = "3",
        });

        Assert.Equal(LogLevel.Information, log.Level);
        Assert.Equal(
            new KeyValuePair<string, LogLevel>[] { new("Kaze.Sidecar.Corral", LogLevel.Debug), new("Host", LogLevel.None) },
            log.Levels.OrderByDescending(l => l.Key.Length));
        Assert.Equal(LogFormat.Json, log.Format);
        Assert.Equal("/var/log/kaze/kaze.log", log.File);
        Assert.Equal(LogRollingInterval.Hour, log.RollingInterval);
        Assert.Equal(10L << 20, log.FileSizeLimit);
        Assert.Equal(3, log.RetainedFiles);
    }

    [Fact]
    public void Read_BadValues_ListsEveryProblemWithItsKey()
    {
        KazeSettings? settings = KazeSettings.Read(Configuration(new()
        {
            ["log:level"] = "loud",
            ["log:levels:Kaze.Sidecar.Corral"] = "chatty",
            ["log:levels:Kaze.Edge"] = "debug",
            ["log:levels:Host:Orders"] = "info",
            ["log:format"] = "xml",
            ["log:file"] = "/tmp/",
            ["log:rollingInterval"] = "3",
            ["log:fileSizeLimit"] = "12",
            ["log:retainedFiles"] = "0",
        }), out List<SettingProblem> problems);

        Assert.Null(settings);
        Assert.Equal(
            [
                "log:level: 'loud' is not one of trace, debug, info, warn, error, critical, off, verbose, information, warning, fatal, none",
                "log:levels:Host: must be a single value (one of trace, debug, info, warn, error, critical, off, verbose, information, warning, fatal, none), not an object or a list",
                "log:levels:Kaze.Sidecar.Corral: 'chatty' is not one of trace, debug, info, warn, error, critical, off, verbose, information, warning, fatal, none",
                "log:format: 'xml' is not one of text, json",
                "log:file: '/tmp/' is a directory; name a file in it, e.g. /tmp/kaze.log",
                "log:rollingInterval: '3' is not one of infinite, year, month, day, hour, minute",
                "log:fileSizeLimit: 12 is not from 1KiB to 1024GiB",
                "log:retainedFiles: '0' is not a whole number from 1 to 100000",
            ],
            problems.Select(p => p.ToString()));
    }

    [Fact]
    public void Read_BadLogLevels_AreAmongTheProblems()
    {
        IConfigurationRoot configuration = SettingsLoader.Build(null, [new("log:levels:Kaze.Edge", "verbose!"), new("log:level", "nope")], environment: new Dictionary<string, string>());

        KazeSettings? settings = KazeSettings.Read(configuration, out List<SettingProblem> problems);

        Assert.Null(settings);
        Assert.Contains(problems, p => p.ToString().StartsWith("log:levels:Kaze.Edge: 'verbose!'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.ToString().StartsWith("log:level: 'nope'", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_LogSettings_AreCarried()
    {
        IConfigurationRoot configuration = SettingsLoader.Build(null, [new("log:format", "json")], environment: new Dictionary<string, string> { ["KAZE_LOG__LEVELS__KAZE.EDGE"] = "debug" });

        KazeSettings? settings = KazeSettings.Read(configuration, out List<SettingProblem> problems);

        Assert.Empty(problems);
        Assert.Equal(LogFormat.Json, settings!.Log.Format);
        // The environment's keys arrive lower-cased; areas are matched without case.
        Assert.Equal(LogLevel.Debug, settings.Log.LevelOf("Kaze.Edge"));
    }

    [Theory]
    [InlineData("Kaze.Sidecar.Corral", LogLevel.Debug)]
    [InlineData("Kaze.Sidecar.Corral.PeerConnection", LogLevel.Debug)]
    [InlineData("kaze.sidecar.corral", LogLevel.Debug)]
    [InlineData("Kaze.Sidecar.CorralX", LogLevel.Error)]
    [InlineData("Kaze.Sidecar", LogLevel.Error)]
    [InlineData("Kaze.Edge", LogLevel.Warning)]
    [InlineData("Host.Orders.Api", LogLevel.Information)]
    [InlineData("Host.Orders.Db", LogLevel.Trace)]
    [InlineData("Microsoft.Extensions.Hosting", LogLevel.Warning)]
    public void LevelOf_LongestWholeSegmentPrefixWins(string category, LogLevel expected)
    {
        var log = new LogSettings
        {
            Level = LogLevel.Warning,
            Levels =
            [
                new("Kaze.Sidecar", LogLevel.Error),
                new("Kaze.Sidecar.Corral", LogLevel.Debug),
                new("Host", LogLevel.Information),
                new("Host.Orders.Db", LogLevel.Trace),
            ],
        };

        Assert.Equal(expected, log.LevelOf(category));
    }

    private static LogSettings Bind(Dictionary<string, string?> values)
    {
        KazeSettings? settings = KazeSettings.Read(Configuration(values), out List<SettingProblem> problems);
        Assert.Empty(problems);
        return settings!.Log;
    }

    private static IConfigurationRoot Configuration(Dictionary<string, string?> values) =>
        SettingsLoader.Build(null, values, new Dictionary<string, string>());
}
