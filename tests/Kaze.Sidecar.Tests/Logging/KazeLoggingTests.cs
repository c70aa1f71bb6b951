using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kaze.Cli;
using Kaze.Protocol;
using Kaze.Sidecar.Logging;
using Kaze.Sidecar.Tests.TestSupport;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>
/// kaze's own sinks (src/Kaze.Cli/KazeLogging.cs): the text and JSON lines on stderr, levels per
/// area, the rolling file, and the host's records as they come out of them.
/// </summary>
public sealed partial class KazeLoggingTests : IDisposable
{
    private readonly StringWriter _stderr = new();
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Text_Line_HasTimeLevelAreaMessageAndException()
    {
        using (ILoggerFactory loggers = KazeLogging.Create(new LogSettings { Level = LogLevel.Information }, Writer()))
        {
            loggers.CreateLogger("Kaze.Sidecar.Corral").LogWarning(Thrown(), "peer {Peer} lost", "0.0.0.2");
        }

        string[] lines = Lines();
        Assert.Matches(TextLine(), lines[0]);
        Assert.EndsWith(" WRN Corral] peer 0.0.0.2 lost", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("System.InvalidOperationException: boom", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_EveryEvent_IsOneJsonObjectOnOneLine()
    {
        using (ILoggerFactory loggers = KazeLogging.Create(new LogSettings { Level = LogLevel.Trace, Format = LogFormat.Json }, Writer()))
        {
            ILogger logger = loggers.CreateLogger("Kaze.Sidecar.Corral");
            logger.LogDebug("plain");
            logger.LogInformation("quotes \"{Name}\" and\nnew lines, {Count} of them", "a\"b", 2);
            logger.LogError(Thrown(), "failed");
            new HostLogMiddleware(loggers, Ident.Parse("0.0.0.9"), new LogForwardingCounters())
                .Write("""{"level":"Warning","category":"Orders.Api","message":"from the host","exception":"X: y\n  at z"}"""u8);
        }

        string[] lines = Lines();
        Assert.Equal(4, lines.Length);
        JsonElement[] events = [.. lines.Select(line => JsonDocument.Parse(line).RootElement)];
        Assert.All(events, e => Assert.True(DateTimeOffset.TryParse(e.GetProperty("@t").GetString(), out _)));
        Assert.Equal(["Debug", "Information", "Error", "Warning"], events.Select(e => e.GetProperty("@l").GetString()));
        // Strings as they are: the quotes are the template's own, the value gets none added.
        Assert.Equal("quotes \"a\"b\" and\nnew lines, 2 of them", events[1].GetProperty("@m").GetString());
        Assert.Equal("a\"b", events[1].GetProperty("Name").GetString());
        Assert.Equal(2, events[1].GetProperty("Count").GetInt32());
        Assert.Equal("Kaze.Sidecar.Corral", events[1].GetProperty("SourceContext").GetString());
        Assert.StartsWith("System.InvalidOperationException: boom", events[2].GetProperty("@x").GetString(), StringComparison.Ordinal);
        Assert.Equal("from the host", events[3].GetProperty("@m").GetString());
        Assert.Equal("Host.Orders.Api", events[3].GetProperty("SourceContext").GetString());
        Assert.Equal("0.0.0.9", events[3].GetProperty("HostIdent").GetString());
        Assert.Equal("X: y\n  at z", events[3].GetProperty("@x").GetString());
    }

    [Fact]
    public void Levels_PerArea_OverrideTheDefault()
    {
        var settings = new LogSettings
        {
            Level = LogLevel.Warning,
            Levels = [new("kaze.sidecar.corral", LogLevel.Debug), new("Kaze.Edge", LogLevel.Information), new("Host", LogLevel.Error), new("Noisy", LogLevel.None)],
        };
        using (ILoggerFactory loggers = KazeLogging.Create(settings, Writer()))
        {
            loggers.CreateLogger("Kaze.Sidecar.Corral.PeerConnection").LogDebug("corral debug");
            loggers.CreateLogger("Kaze.Sidecar.CorralX").LogDebug("corralx debug");
            loggers.CreateLogger("Kaze.Edge").LogInformation("edge info");
            loggers.CreateLogger("Kaze.Edge").LogDebug("edge debug");
            loggers.CreateLogger("Kaze.Sidecar").LogInformation("sidecar info");
            loggers.CreateLogger("Kaze.Sidecar").LogWarning("sidecar warning");
            loggers.CreateLogger("Noisy").LogCritical("noisy critical");
            var forwarding = new HostLogMiddleware(loggers, Ident.Parse("0.0.0.1"), new LogForwardingCounters());
            forwarding.Write("""{"level":"Warning","category":"Orders","message":"host warning"}"""u8);
            forwarding.Write("""{"level":"Error","category":"Orders","message":"host error"}"""u8);
        }

        Assert.Equal(
            ["corral debug", "edge info", "sidecar warning", "host error"],
            Lines().Select(line => line[(line.IndexOf("] ", StringComparison.Ordinal) + 2)..]));
    }

    [Fact]
    public void Text_HostRecord_ShowsHostIdentAndItsCategory()
    {
        using (ILoggerFactory loggers = KazeLogging.Create(new LogSettings { Level = LogLevel.Information }, Writer()))
        {
            new HostLogMiddleware(loggers, Ident.Parse("0.0.0.1"), new LogForwardingCounters())
                .Write("""{"level":"Information","category":"Orders.Worker","message":"order {42} done"}"""u8);
        }

        string line = Assert.Single(Lines());
        Assert.Matches(TextLine(), line);
        Assert.EndsWith(" INF host 0.0.0.1 Worker] order {42} done", line, StringComparison.Ordinal);
    }

    [Fact]
    public void File_Daily_WritesTheDatedFileWithFullTimestamps()
    {
        string path = _directory.File("kaze.log");
        using (ILoggerFactory loggers = KazeLogging.Create(new LogSettings { Level = LogLevel.Information, File = path }, Writer()))
        {
            loggers.CreateLogger("Kaze.Run").LogInformation("to the file");
        }

        string file = Assert.Single(Directory.GetFiles(_directory.Path));
        Assert.Matches(@"/kaze\d{8}\.log$", file);
        string line = Assert.Single(File.ReadAllLines(file));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [+-]\d{2}:\d{2} INF Run: to the file$", line);
        Assert.Contains("to the file", Assert.Single(Lines()), StringComparison.Ordinal);
    }

    [Fact]
    public void File_SizeLimit_RollsOverAndKeepsTheRetainedCount()
    {
        string path = _directory.File("kaze.log");
        var settings = new LogSettings
        {
            Level = LogLevel.Information,
            Format = LogFormat.Json,
            File = path,
            RollingInterval = LogRollingInterval.Infinite,
            FileSizeLimit = 1024,
            RetainedFiles = 2,
        };
        using (ILoggerFactory loggers = KazeLogging.Create(settings, Writer()))
        {
            ILogger logger = loggers.CreateLogger("Kaze.Run");
            for (int i = 0; i < 40; i++)
            {
                logger.LogInformation("line {Number} {Padding}", i, new string('x', 60));
            }
        }

        string[] files = [.. Directory.GetFiles(_directory.Path).Order(StringComparer.Ordinal)];
        Assert.Equal(2, files.Length);
        // A file rolls once it has reached the limit: the event that crosses it is still written there.
        int longest = Lines().Max(line => Encoding.UTF8.GetByteCount(line) + 1);
        Assert.All(files, f => Assert.InRange(new FileInfo(f).Length, 1, 1024 + longest));
        Assert.True(new FileInfo(files[0]).Length >= 1024, "the older file rolled over at the limit");
        Assert.All(files, f => Assert.Matches(@"/kaze_\d{3}\.log$", f));
        string last = File.ReadAllLines(files[^1])[^1];
        Assert.Equal(39, JsonDocument.Parse(last).RootElement.GetProperty("Number").GetInt32());
        Assert.Equal(40, Lines().Length);
    }

    [GeneratedRegex(@"^\[kaze \d{2}:\d{2}:\d{2}\.\d{3} (VRB|DBG|INF|WRN|ERR|FTL) [^\]]+\] ")]
    private static partial Regex TextLine();

    private TextWriter Writer() => TextWriter.Synchronized(_stderr);

    private string[] Lines() => _stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static Exception Thrown()
    {
        try
        {
            throw new InvalidOperationException("boom");
        }
        catch (InvalidOperationException e)
        {
            return e;
        }
    }
}
