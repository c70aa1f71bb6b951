using System.Net;
using System.Net.Sockets;
using System.Text;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>The OTLP exporter, over http/protobuf, to a stand-in collector.</summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Otlp_HttpProtobuf_PushesKazeMetricsToTheCollector()
    {
        using var collector = new HttpListener();
        int port = FreePort();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();

        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["metrics:listen"] = "off",
            ["metrics:otlpEndpoint"] = $"http://127.0.0.1:{port}/v1/metrics",
            ["metrics:otlpProtocol"] = "http/protobuf",
            ["metrics:otlpInterval"] = "200ms",
        });

        HttpListenerContext export = await collector.GetContextAsync().Within("the first OTLP export");
        using var body = new MemoryStream();
        await export.Request.InputStream.CopyToAsync(body);
        export.Response.StatusCode = 200;
        export.Response.ContentType = "application/x-protobuf";
        export.Response.Close();

        Assert.Equal("POST", export.Request.HttpMethod);
        Assert.Equal("/v1/metrics", export.Request.Url!.AbsolutePath);
        // Protobuf keeps strings as UTF-8 bytes: the instrument names are readable in the body.
        string text = Encoding.UTF8.GetString(body.ToArray());
        Assert.Contains("kaze_packets", text, StringComparison.Ordinal);
        Assert.Contains("kaze_host_restarts", text, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
