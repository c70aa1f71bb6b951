using Kaze.Plugin;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Sidecar.Tests.RateLimiting;

public sealed class RateLimitOptionsTests
{
    [Fact]
    public void Read_EveryKindOfRule_ReadsValuesAndDefaults()
    {
        RateLimitOptions options = Read("""
            {
              "total": { "permitsPerSecond": 10000, "burst": 20000, "mode": "reject" },
              "perSource": { "permitsPerSecond": 2.5, "mode": "wait" },
              "perBodyType": {
                "echo": { "permitsPerSecond": 100, "mode": "wait", "maxWait": "50ms" },
                "*": { "permitsPerSecond": 500 }
              },
              "maxPartitions": 42
            }
            """, out List<string> problems);

        Assert.Empty(problems);
        Assert.Equal(new RateLimitRule { Name = "total", PermitsPerSecond = 10000, Burst = 20000, Mode = RateLimitMode.Reject, MaxWait = TimeSpan.Zero }, options.Total);
        // Burst defaults to one second's permits, rounded up; maxWait to 100 ms in wait mode.
        Assert.Equal(new RateLimitRule { Name = "perSource", PermitsPerSecond = 2.5, Burst = 3, Mode = RateLimitMode.Wait, MaxWait = TimeSpan.FromMilliseconds(100) }, options.PerSource);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.PerBodyType["echo"].MaxWait);
        Assert.Equal("perBodyType:echo", options.PerBodyType["echo"].Name);
        Assert.Equal(new RateLimitRule { Name = "perBodyType:*", PermitsPerSecond = 500, Burst = 500 }, options.OtherBodyTypes);
        Assert.Equal(42, options.MaxPartitions);
        Assert.False(options.IsEmpty);
    }

    [Fact]
    public void Read_NoSection_IsEmpty()
    {
        RateLimitOptions options = RateLimitOptions.Read(new ConfigurationBuilder().Build(), out List<string> problems);

        Assert.Empty(problems);
        Assert.True(options.IsEmpty);
        Assert.Equal(RateLimitOptions.DefaultMaxPartitions, options.MaxPartitions);
    }

    [Fact]
    public void Read_LowerCaseKeysFromEnvironmentVariables_AreAccepted()
    {
        IConfigurationRoot configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ratelimits:total:permitspersecond"] = "7",
            ["ratelimits:total:mode"] = "WAIT",
            ["ratelimits:total:maxwait"] = "1s",
        }).Build();

        RateLimitOptions options = RateLimitOptions.Read(configuration, out List<string> problems);

        Assert.Empty(problems);
        Assert.Equal(RateLimitMode.Wait, options.Total!.Mode);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Total.MaxWait);
    }

    [Fact]
    public void KazeSettingsRead_EveryProblem_IsListedWithItsKey()
    {
        KazeSettings.Read(LimiterHarness.Configuration("""{ "rateLimits": """ + """
            {
              "totl": { "permitsPerSecond": 1 },
              "total": { "permitsPerSecond": -1, "burst": 0, "mode": "fast" },
              "perSource": "100",
              "perBodyType": {
                "echo": { "permitsPerSecond": "many", "maxWait": "5s" },
                "log": { "permitPerSecond": 5 },
                "slow": { "permitsPerSecond": 1, "mode": "wait", "maxWait": "2m" },
                "odd": { "permitsPerSecond": 1, "mode": "wait", "maxWait": "soon" },
                "*": { "burst": 2 }
              },
              "maxPartitions": 0
            }
            """ + "}"), out List<SettingProblem> found);
        List<string> problems = [.. found.Select(p => p.ToString())];

        string[] expected =
        [
            "rateLimits:totl: not a setting of \"rateLimits\" (did you mean \"total\"?)",
            "rateLimits:total:permitsPerSecond: '-1' is not a number",
            "rateLimits:total:burst: '0' is not a whole number from 1",
            "rateLimits:total:mode: 'fast' is not one of reject, wait",
            "rateLimits:perSource: must be an object",
            "rateLimits:perBodyType:echo:permitsPerSecond: 'many' is not a number",
            "rateLimits:perBodyType:echo:maxWait: only applies with \"mode\": \"wait\"",
            "rateLimits:perBodyType:log:permitPerSecond: unknown setting (did you mean \"permitsPerSecond\"?)",
            "rateLimits:perBodyType:log:permitsPerSecond: missing",
            "rateLimits:perBodyType:slow:maxWait: 2m is not from 1ms to 1m",
            "rateLimits:perBodyType:odd:maxWait: 'soon' is not a duration",
            "rateLimits:perBodyType:*:permitsPerSecond: missing",
            "rateLimits:maxPartitions: '0' is not a whole number from 1",
        ];
        foreach (string problem in expected)
        {
            Assert.True(problems.Any(p => p.StartsWith(problem, StringComparison.Ordinal)), $"missing: {problem}\nlisted:\n{string.Join('\n', problems)}");
        }

        Assert.Equal(expected.Length, problems.Count);
    }

    [Fact]
    public void ConfigureServices_InvalidSection_ThrowsPluginConfigurationExceptionListingEveryProblem()
    {
        IConfigurationRoot configuration = LimiterHarness.Configuration("""{ "rateLimits": { "total": { "burst": 0 } } }""");
        var plugin = new RateLimitPlugin();
        var context = new PluginContext(plugin.Name, configuration.GetSection("rateLimits"), configuration, new Kaze.Protocol.Ident(1));


        var e = Assert.Throws<PluginConfigurationException>(() => plugin.ConfigureServices(context, new ServiceCollection()));

        Assert.Equal("rateLimits", e.Plugin);
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains("rateLimits:total:permitsPerSecond: missing", e.Message, StringComparison.Ordinal);
        Assert.Contains("rateLimits:total:burst: '0'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SidecarAppBuild_InvalidSection_StopsTheStartNamingThePluginAndTheKey()
    {
        IConfigurationRoot configuration = LimiterHarness.Configuration("""{ "rateLimits": { "total": { "permitsPerSecond": 0 } } }""");

        var e = Assert.Throws<PluginException>(() => SidecarApp.Build(KazeSettings.Defaults, withHost: false, _ => { }, configuration, [new RateLimitPlugin()]));

        Assert.Equal("rateLimits", e.Plugin);
        Assert.Contains("rateLimits:total:permitsPerSecond: '0' is not a number", e.Message, StringComparison.Ordinal);
    }

    private static RateLimitOptions Read(string json, out List<string> problems) =>
        RateLimitOptions.Read(LimiterHarness.Configuration($$"""{ "rateLimits": {{json}} }"""), out problems);
}
