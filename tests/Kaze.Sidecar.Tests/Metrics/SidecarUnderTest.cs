using System.Collections;
using System.Net;
using Kaze.Core;
using Kaze.Protocol;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>
/// A real sidecar in this process, composed as `kaze run` composes it (SidecarApp.Build with the
/// metrics plugin), with a channel of its own, no peer listener, and /metrics on a free port.
/// The test can act as the host through <see cref="OpenAsHost"/>.
/// </summary>
internal sealed class SidecarUnderTest : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(15) };

    private readonly SidecarApp _app;
    private ShmChannel? _host;

    private SidecarUnderTest(SidecarApp app, string channelName)
    {
        _app = app;
        ChannelName = channelName;
    }

    public string ChannelName { get; }

    public SidecarNode Node => _app.Node;

    public IServiceProvider Services => _app.Services;

    public MetricsService Metrics => _app.Services.GetRequiredService<MetricsService>();

    /// <summary>Builds and starts a sidecar; <paramref name="settings"/> are flags over the defaults ("metrics:listen" is 127.0.0.1:0 unless given).</summary>
    public static async Task<SidecarUnderTest> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, bool withHost = true, IReadOnlyList<Kaze.Plugin.IKazePlugin>? plugins = null)
    {
        string channel = "mt" + Guid.NewGuid().ToString("N")[..12];
        var flags = new Dictionary<string, string?>
        {
            ["ident"] = "0.0.0.1",
            ["listen"] = "off",
            ["channel:name"] = channel,
            ["channel:ringSize"] = "64KiB",
            ["metrics:listen"] = "127.0.0.1:0",
        };
        foreach ((string key, string? value) in settings ?? new Dictionary<string, string?>())
        {
            flags[key] = value;
        }

        IConfiguration configuration = SettingsLoader.Build(null, flags, new Hashtable());
        KazeSettings settingsBound = KazeSettings.Read(configuration, out List<SettingProblem> errors)
            ?? throw new XunitException("Test settings are invalid: " + string.Join("; ", errors));
        SidecarApp app = SidecarApp.Build(
            settingsBound,
            withHost,
            _ => { },
            configuration,
            [new MetricsPlugin { MeterName = "Kaze.Tests." + channel }, .. plugins ?? []]);
        try
        {
            await app.StartAsync().Within("the sidecar to start");
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new SidecarUnderTest(app, channel);
    }

    /// <summary>The /metrics URL once the endpoint listens.</summary>
    public async Task<Uri> MetricsUrlAsync()
    {
        IPEndPoint endPoint = await Metrics.Listening.Within("the metrics endpoint to listen");
        return new Uri($"http://{endPoint}{MetricsHttpApplication.Path}");
    }

    /// <summary>GETs /metrics; fails unless the answer is 200 with the Prometheus content type.</summary>
    public async Task<string> ScrapeAsync()
    {
        Uri url = await MetricsUrlAsync();
        using HttpResponseMessage response = await Http.GetAsync(url).Within("GET " + url);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {body}");
        Assert.Equal(PrometheusText.ContentType, response.Content.Headers.ContentType?.ToString());
        return body;
    }

    public static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => await Http.SendAsync(request).Within(request.Method + " " + request.RequestUri);

    public SidecarApp App => _app;

    /// <summary>GETs (or HEADs) <paramref name="path"/> on the metrics listener: the status and the body.</summary>
    public async Task<(HttpStatusCode Status, string Body, string? ContentType)> GetAsync(string path, HttpMethod? method = null)
    {
        Uri url = new(await MetricsUrlAsync(), path);
        using HttpResponseMessage response = await SendAsync(new HttpRequestMessage(method ?? HttpMethod.Get, url));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.ToString());
    }

    /// <summary>Opens the channel as its host (once).</summary>
    public ShmChannel OpenAsHost() => _host ??= ShmChannel.Open(ChannelName);

    /// <summary>Sends a request to <paramref name="destination"/> as the host and returns the response the sidecar hands back.</summary>
    public async Task<Hdr> CallAsHostAsync(Ident destination, uint sequence, uint timeoutMs = 10_000)
    {
        ShmChannel host = OpenAsHost();
        Hdr request = Hdr.CreateRequest(destination, "test.req", sequence, timeoutMs);
        byte[] record = new byte[RingFraming.GetPayloadSize(request, 0)];
        RingFraming.Write(record, request, ReadOnlySpan<byte>.Empty);
        Assert.Equal(ChannelStatus.Ok, host.Writer.TryWrite(record));
        while (true)
        {
            // A request to this node's own host comes back to the test first: skip to the answer.
            (ChannelStatus status, byte[]? answer) = await host.Reader.ReadAsync().AsTask().Within($"the answer to request {sequence}");
            Assert.Equal(ChannelStatus.Ok, status);
            Hdr header = Decode(answer!);
            if (header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp && header.Rsp == sequence)
            {
                return header;
            }
        }
    }

    private static Hdr Decode(byte[] record)
    {
        Assert.True(RingFraming.TryDecode(record, out Hdr? header, out _, out DecodeError error), $"the answer does not decode: {error}");
        return header;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().Within("the sidecar to stop");
        }
        finally
        {
            _host?.Dispose();
            await _app.DisposeAsync();
        }
    }
}
