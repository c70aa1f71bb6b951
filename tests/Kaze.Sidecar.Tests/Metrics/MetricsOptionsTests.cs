using Kaze.Resolver;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Metrics;
using Microsoft.Extensions.Configuration;

namespace Kaze.Sidecar.Tests.Metrics;

public sealed class MetricsOptionsTests
{
    private static IConfiguration Section(Dictionary<string, string?> flags) =>
        SettingsLoader.Build(null, flags, new System.Collections.Hashtable());

    [Fact]
    public void Bind_Defaults_LoopbackEndpointAndNoOtlp()
    {
        MetricsOptions? options = MetricsOptions.Bind(Section([]), out List<string> problems);

        Assert.Empty(problems);
        Assert.Equal(new NodeAddress("127.0.0.1", 9464), options!.Listen);
        Assert.Null(options.OtlpEndpoint);
        Assert.False(options.OtlpHttp);
        Assert.Equal(TimeSpan.FromSeconds(60), options.OtlpInterval);
    }

    [Theory]
    [InlineData("off")]
    [InlineData("OFF")]
    public void Bind_ListenOff_NoEndpoint(string off)
    {
        MetricsOptions? options = MetricsOptions.Bind(Section(new() { ["metrics:listen"] = off }), out _);

        Assert.Null(options!.Listen);
        Assert.False(options.Exports);
    }

    [Theory]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("0.0.0.0:9100", "0.0.0.0", 9100)]
    [InlineData("[::1]:9464", "::1", 9464)]
    [InlineData("localhost:9464", "localhost", 9464)]
    public void Bind_ListenAddress_Parsed(string text, string host, int port)
    {
        MetricsOptions? options = MetricsOptions.Bind(Section(new() { ["metrics:listen"] = text }), out List<string> problems);

        Assert.Empty(problems);
        Assert.Equal(new NodeAddress(host, port), options!.Listen);
    }

    [Fact]
    public void Bind_OtlpHttp_Parsed()
    {
        MetricsOptions? options = MetricsOptions.Bind(
            Section(new() { ["metrics:otlpEndpoint"] = "http://127.0.0.1:4318/v1/metrics", ["metrics:otlpProtocol"] = "http/protobuf", ["metrics:otlpInterval"] = "500ms" }),
            out List<string> problems);

        Assert.Empty(problems);
        Assert.Equal(new Uri("http://127.0.0.1:4318/v1/metrics"), options!.OtlpEndpoint);
        Assert.True(options.OtlpHttp);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.OtlpInterval);
    }

    [Fact]
    public void Bind_EverythingWrong_ListsEveryProblemWithItsKey()
    {
        MetricsOptions? options = MetricsOptions.Bind(
            Section(new()
            {
                ["metrics:listen"] = "nowhere",
                ["metrics:otlpEndpoint"] = "ftp://collector",
                ["metrics:otlpProtocol"] = "udp",
                ["metrics:otlpInterval"] = "soon",
            }),
            out List<string> problems);

        Assert.Null(options);
        Assert.Collection(
            problems,
            p => Assert.StartsWith("metrics:listen: 'nowhere'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("metrics:otlpEndpoint: 'ftp://collector'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("metrics:otlpProtocol: 'udp'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("metrics:otlpInterval:", p, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:")]
    [InlineData("::1:9464")]
    [InlineData(":9464")]
    public void Bind_BadListen_IsAProblem(string text)
    {
        Assert.Null(MetricsOptions.Bind(Section(new() { ["metrics:listen"] = text }), out List<string> problems));
        Assert.Single(problems);
    }

    [Fact]
    public void SidecarApp_BadMetricsSettings_FailsNamingThePlugin()
    {
        IConfiguration configuration = SettingsLoader.Build(null, new Dictionary<string, string?> { ["listen"] = "off", ["metrics:listen"] = "nowhere" }, new System.Collections.Hashtable());
        KazeSettings settings = KazeSettings.Defaults.With(SettingsCatalog.Listen, null);

        PluginException failure = Assert.Throws<PluginException>(() => SidecarApp.Build(settings, withHost: false, _ => { }, configuration, [new MetricsPlugin()]));

        Assert.Equal("metrics", failure.Plugin);
        Assert.Contains("metrics:listen: 'nowhere'", failure.Message, StringComparison.Ordinal);
    }
}
