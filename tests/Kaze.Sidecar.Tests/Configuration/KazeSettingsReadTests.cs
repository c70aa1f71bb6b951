using System.Collections;
using Kaze.Core;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Sidecar.Configuration;
using Kaze.Mesh;
using Kaze.Sidecar.Logging;
using Kaze.Sidecar.Metrics;
using Kaze.Sidecar.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Configuration;

/// <summary>
/// <see cref="KazeSettings.Read"/>: one catalog decides values, types, unknown keys and
/// defaults, and every component's options agree with it.
/// </summary>
public sealed class KazeSettingsReadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kaze-settings-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Read_Defaults_HaveNoProblemAndMatchTheComponentsOwnDefaults()
    {
        KazeSettings settings = KazeSettings.Defaults;
        var corral = new CorralOptions();
        var sidecar = new SidecarOptions();
        var log = new LogSettings();
        var channel = new ChannelOptions();

        Assert.Equal(sidecar.Ident, settings.Ident);
        Assert.Equal(sidecar.Grace, settings.Grace);
        Assert.Equal(channel.SidecarToHostCapacity, settings.Get(SettingsCatalog.RingSize));
        Assert.Equal(corral.Listen, settings.Listen);
        Assert.Equal(corral.HandshakeTimeout, settings.Get(SettingsCatalog.HandshakeTimeout));
        Assert.Equal(corral.ConnectTimeout, settings.Get(SettingsCatalog.ConnectTimeout));
        Assert.Equal(corral.IdleTimeout, settings.Get(SettingsCatalog.IdleTimeout));
        Assert.Equal(corral.ReconnectMin, settings.Get(SettingsCatalog.ReconnectMin));
        Assert.Equal(corral.ReconnectMax, settings.Get(SettingsCatalog.ReconnectMax));
        Assert.Equal(corral.MaxFrameSize, settings.Get(SettingsCatalog.MaxFrameSize));
        Assert.Equal(corral.MaxQueuedPackets, settings.Get(SettingsCatalog.MaxQueuedPackets));
        Assert.Null(settings.Secret);
        Assert.Equal(log, settings.Log with { Levels = log.Levels });
        Assert.Empty(settings.Log.Levels);
        Assert.Equal(new MetricsOptions().OtlpInterval, settings.Get(SettingsCatalog.OtlpInterval));
        Assert.Equal(RateLimitOptions.DefaultMaxPartitions, settings.Get(SettingsCatalog.RateLimitMaxPartitions));
        Assert.True(RateLimitOptions.From(settings).IsEmpty);
        Assert.Empty(settings.Nodes);
        Assert.True(settings.ListenIsDefault);
    }

    [Theory]
    [InlineData("corral:handshakeTimeout", "1ms", "24d")]
    [InlineData("corral:connectTimeout", "1ms", "24d")]
    [InlineData("corral:idleTimeout", "1ms", "24d")]
    [InlineData("corral:reconnectMin", "1ms", "1ms")]
    [InlineData("corral:reconnectMax", "24d", "24d")]
    [InlineData("corral:maxFrameSize", "1KiB", "2147483643")]
    [InlineData("corral:maxQueuedPackets", "1", "2147483647")]
    public void Read_ExtremesTheCatalogAccepts_AreAcceptedByTheCorral(string path, string low, string high)
    {
        foreach (string value in new[] { low, high })
        {
            KazeSettings? settings = Read(new() { [path] = value, ["corral:reconnectMax"] = path == "corral:reconnectMin" ? value : "24d" });
            Assert.NotNull(settings);
            var options = new CorralOptions
            {
                HandshakeTimeout = settings.Get(SettingsCatalog.HandshakeTimeout),
                ConnectTimeout = settings.Get(SettingsCatalog.ConnectTimeout),
                IdleTimeout = settings.Get(SettingsCatalog.IdleTimeout),
                ReconnectMin = settings.Get(SettingsCatalog.ReconnectMin),
                ReconnectMax = settings.Get(SettingsCatalog.ReconnectMax),
                MaxFrameSize = (int)settings.Get(SettingsCatalog.MaxFrameSize),
                MaxQueuedPackets = settings.Get(SettingsCatalog.MaxQueuedPackets),
            };
            Assert.True(options.Validate().Count == 0, $"{path}={value}: {string.Join("; ", options.Validate())}");
        }
    }

    [Theory]
    [InlineData("corral:maxFrameSize", "100", "corral:maxFrameSize: 100 is not from 1KiB to 2147483643")]
    [InlineData("corral:idleTimeout", "600h", "corral:idleTimeout: 600h is not from 1ms to 24d")]
    [InlineData("corral:idleTimeout", "0", "corral:idleTimeout: 0 is not from 1ms to 24d")]
    [InlineData("run:grace", "25d", "run:grace: 25d is not from 0 to 24d")]
    [InlineData("ident", "0.0.0.0", "ident: '0.0.0.0' is not a node's ident")]
    [InlineData("channel:ringSize", "100", "channel:ringSize: 100 is not a power of two from 64 to 1GiB")]
    [InlineData("metrics:listen", "nowhere", "metrics:listen: 'nowhere' is not an address")]
    [InlineData("log:level", "debgu", "log:level: 'debgu' is not one of trace")]
    public void Read_ValueOutOfRange_IsAProblemNamingKeyValueAndWhatIsAllowed(string path, string value, string expected)
    {
        Assert.Null(Read(new() { [path] = value }, out List<SettingProblem> problems));

        SettingProblem problem = Assert.Single(problems);
        Assert.StartsWith(expected, problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnknownKeys_AreProblemsWithWhatTheyMostLikelyMeant()
    {
        Assert.Null(Read(new()
        {
            ["idnet"] = "0.0.0.2",
            ["idleTimeout"] = "5s",
            ["corral:idleTimout"] = "5s",
            ["rateLimits:total:permitsPerSecond"] = "5",
            ["rateLimits:total:brust"] = "5",
            ["plugins:hello:assembly"] = typeof(KazeSettingsReadTests).Assembly.Location,
            ["plugins:hello:greeting"] = "a plugin's own setting",
        }, out List<SettingProblem> problems));

        Assert.Equal(
            [
                "idnet: not a kaze setting (did you mean \"ident\"?)",
                "idleTimeout: not a kaze setting (did you mean \"corral:idleTimeout\"?)",
                "rateLimits:total:brust: unknown setting (did you mean \"burst\"?); a rule { \"permitsPerSecond\": N, \"burst\": N, \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION } has permitsPerSecond, burst, mode, maxWait",
                "corral:idleTimout: not a setting of \"corral\" (did you mean \"idleTimeout\"?); its settings are handshakeTimeout, connectTimeout, idleTimeout, reconnectMin, reconnectMax, maxFrameSize, maxQueuedPackets, maxConnections, maxHandshaking, frameTimeout, receiveBudget",
            ],
            problems.Select(p => p.ToString()).OrderBy(p => p.Length));
    }

    [Fact]
    public void Read_WrongTypes_AreProblems()
    {
        string file = Write("""
            {
              "ident": { "value": "0.0.0.2" },
              "nodes": "0.0.0.2=127.0.0.1:7102",
              "listen": [ "127.0.0.1:7000" ],
              "corral": "fast",
              "log": { "levels": { "Host": { "deep": "info" } } },
              "rateLimits": { "total": 100 }
            }
            """);

        Assert.Null(KazeSettings.Read(SettingsLoader.Build(file, [], new Hashtable()), out List<SettingProblem> problems));

        Assert.Equal(
            [
                "corral: must be an object of settings (handshakeTimeout, connectTimeout, idleTimeout, reconnectMin, reconnectMax, maxFrameSize, maxQueuedPackets, maxConnections, maxHandshaking, frameTimeout, receiveBudget), not 'fast'",
                "ident: must be a single value (an ident, e.g. 0.0.0.1), not an object or a list",
                "listen: must be a single value (HOST:PORT (port 0: any free port) or \"off\"), not an object or a list",
                "log:levels:Host: must be a single value (one of trace, debug, info, warn, error, critical, off, verbose, information, warning, fatal, none), not an object or a list",
                "nodes: must be an object (ident → HOST:PORT[/NAME,…], e.g. { \"0.0.0.2\": \"127.0.0.1:7102/orders\" }), not '0.0.0.2=127.0.0.1:7102'",
                "rateLimits:total: must be an object (a rule { \"permitsPerSecond\": N, \"burst\": N, \"mode\": \"reject\" | \"wait\", \"maxWait\": DURATION }), not '100'",
            ],
            problems.Select(p => p.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Read_EnvironmentVariableThatIsNoSetting_IsAProblemNamingTheVariable_OtherProgramsVariablesAreLeftAlone()
    {
        IConfigurationRoot configuration = SettingsLoader.Build(null, [], new Hashtable
        {
            ["KAZE_CORRAL__IDLETIMOUT"] = "5s",
            ["KAZE_CORRAL__MAXFRAMESIZE"] = "100",
            ["KAZE_CHANNEL"] = "a host's own variable",
            ["KAZE_SIDECAR_PID"] = "1",
            ["KAZE_SPIN_MAX_US"] = "50",
            ["KAZE_NODES__0.0.0.2"] = "127.0.0.1:7102",
            ["KAZE_CORAL__IDLETIMEOUT"] = "5s",
            // Another program's own variables (a host library's), passed down through kaze run: not kaze's.
            ["KAZE_PY_ATOMICS"] = "fallback",
            ["KAZE_BIN"] = "/usr/bin/kaze",
        });

        Assert.Null(KazeSettings.Read(configuration, out List<SettingProblem> problems));

        Assert.Equal(
            [
                "KAZE_CORAL__IDLETIMEOUT (environment): coral: not a kaze setting (did you mean \"corral\"?)",
                "KAZE_CORRAL__IDLETIMOUT (environment): corral:idletimout: not a setting of \"corral\" (did you mean \"idleTimeout\"?); its settings are handshakeTimeout, connectTimeout, idleTimeout, reconnectMin, reconnectMax, maxFrameSize, maxQueuedPackets, maxConnections, maxHandshaking, frameTimeout, receiveBudget",
                "KAZE_CORRAL__MAXFRAMESIZE (environment): corral:maxFrameSize: 100 is not from 1KiB to 2147483643",
            ],
            problems.Select(p => SettingsLoader.Describe(configuration, null, p)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Read_GoodValuesFromEveryLayer_AreTyped()
    {
        string file = Write("""
            {
              "$schema": "./kaze.schema.json",
              "ident": "0.0.0.7",
              "nodes": { "0.0.0.2": "127.0.0.1:7102" },
              "corral": { "idleTimeout": "2m" },
              "rateLimits": { "perBodyType": { "echo": { "permitsPerSecond": 5, "mode": "wait" } } }
            }
            """);
        IConfigurationRoot configuration = SettingsLoader.Build(file, [new("listen", "off")], new Hashtable { ["KAZE_RUN__GRACE"] = "1.5s" });

        KazeSettings? settings = KazeSettings.Read(configuration, out List<SettingProblem> problems);

        Assert.Empty(problems);
        Assert.Equal(new Ident(7), settings!.Ident);
        Assert.Equal([new KeyValuePair<Ident, NodeAddress>(new Ident(2), new NodeAddress("127.0.0.1", 7102))], settings.Nodes);
        Assert.Equal(TimeSpan.FromMinutes(2), settings.Get(SettingsCatalog.IdleTimeout));
        Assert.Null(settings.Listen);
        Assert.False(settings.ListenIsDefault);
        Assert.Equal(TimeSpan.FromSeconds(1.5), settings.Grace);
        Assert.Equal(RateLimitMode.Wait, RateLimitOptions.From(settings).PerBodyType["echo"].Mode);
        Assert.Equal(new SettingOrigin(SettingLayer.Environment, "KAZE_RUN__GRACE"), SettingsLoader.OriginOf(configuration, "run:grace"));
        Assert.Equal(SettingLayer.File, SettingsLoader.OriginOf(configuration, "corral:idleTimeout").Layer);
        Assert.Equal(SettingLayer.CommandLine, SettingsLoader.OriginOf(configuration, "listen").Layer);
        Assert.Equal(SettingLayer.Default, SettingsLoader.OriginOf(configuration, "corral:connectTimeout").Layer);
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "hunter2\n", "can be read by every user")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite, "\n", "is empty")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite, null, "has 100000 bytes; a secret file has at most 65536")]
    public void Read_BadSecretFile_IsASettingsProblem(UnixFileMode mode, string? content, string expected)
    {
        string path = Path.Combine(_directory, "secret");
        File.WriteAllBytes(path, content is null ? new byte[100_000] : System.Text.Encoding.UTF8.GetBytes(content));
        File.SetUnixFileMode(path, mode);

        Assert.Null(Read(new() { ["secretFile"] = path }, out List<SettingProblem> problems));

        Assert.Contains(expected, Assert.Single(problems).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SecretFileThatIsADirectoryOrMissing_IsASettingsProblem()
    {
        Assert.Null(Read(new() { ["secretFile"] = _directory }, out List<SettingProblem> directory));
        Assert.Null(Read(new() { ["secretFile"] = Path.Combine(_directory, "absent") }, out List<SettingProblem> missing));

        Assert.Equal($"secretFile: '{_directory}' is a directory; name the file that holds the secret", Assert.Single(directory).ToString());
        Assert.Contains("does not exist", Assert.Single(missing).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_GoodSecretFile_IsReadWithTheSettings()
    {
        string path = Path.Combine(_directory, "secret");
        File.WriteAllText(path, "hunter2\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        KazeSettings? settings = Read(new() { ["secretFile"] = path });

        Assert.Equal("hunter2"u8.ToArray(), settings!.Secret!.Secret);
    }

    [Fact]
    public void Read_ReconnectMaxBelowMin_IsAProblem()
    {
        Assert.Null(Read(new() { ["corral:reconnectMin"] = "2s", ["corral:reconnectMax"] = "1s" }, out List<SettingProblem> problems));

        Assert.Equal("corral:reconnectMax: 1s is less than corral:reconnectMin (2s)", Assert.Single(problems).ToString());
    }

    [Fact]
    public void Read_PluginNamedLikeAKazeSection_IsAProblem()
    {
        Assert.Null(Read(new() { ["plugins:corral:assembly"] = typeof(KazeSettingsReadTests).Assembly.Location, ["plugins:other:assembly"] = "/nonexistent/x.dll" }, out List<SettingProblem> problems));

        Assert.Equal(
            [
                "plugins:corral: 'corral' is the name of a built-in plugin or of one of kaze's own settings; give the plugin another name",
                "plugins:other:assembly: '/nonexistent/x.dll' does not exist",
            ],
            problems.Select(p => p.ToString()));
    }

    [Fact]
    public void Defaults_EveryCatalogEntry_HasAnEnvironmentVariableAndADescription()
    {
        foreach (Setting setting in SettingsCatalog.All)
        {
            Assert.StartsWith("KAZE_", setting.EnvironmentVariable, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(setting.Description), setting.Path);
            Assert.False(string.IsNullOrWhiteSpace(setting.Expected), setting.Path);
            int colon = setting.Path.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon < 0 || SettingsCatalog.FindSection(setting.Path[..colon]) is not null, $"{setting.Path}: its section is not in SettingsCatalog.Sections");
        }

        Assert.Equal(SettingsCatalog.All.Count, SettingsCatalog.All.Select(s => s.Path.ToLowerInvariant()).Distinct().Count());
    }

    private KazeSettings? Read(Dictionary<string, string?> values) => Read(values, out List<SettingProblem> problems) ?? throw new Xunit.Sdk.XunitException(string.Join("\n", problems));

    private static KazeSettings? Read(Dictionary<string, string?> values, out List<SettingProblem> problems) =>
        KazeSettings.Read(SettingsLoader.Build(null, values, new Hashtable()), out problems);

    private string Write(string json)
    {
        string path = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }
}
