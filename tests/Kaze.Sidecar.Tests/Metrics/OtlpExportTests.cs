using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

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
        Channel<(string Method, string Path, byte[] Body)> exports = Channel.CreateUnbounded<(string, string, byte[])>();
        Task answering = AnswerEveryExportAsync(collector, exports.Writer);

        await using (SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["metrics:listen"] = "off",
            ["metrics:otlpEndpoint"] = $"http://127.0.0.1:{port}/v1/metrics",
            ["metrics:otlpProtocol"] = "http/protobuf",
            ["metrics:otlpInterval"] = "200ms",
        }))
        {
            // Protobuf keeps strings as UTF-8 bytes: the instrument names are readable in the body.
            // The exporter's first tick may come while the provider is still being built, with the
            // resource and no metrics yet: the test waits for the first export that has them.
            string text = await FirstExportWithAsync(exports.Reader, "kaze_packets").Within("an OTLP export with kaze_packets");

            Assert.Contains("kaze_host_restarts", text, StringComparison.Ordinal);
            Assert.Contains("service.instance.id", text, StringComparison.Ordinal);
            sidecar.Node.ReportHostExit(42);
        }

        // The stop made a last export, with the exit code the host left.
        bool lastHasExitCode = false;
        while (exports.Reader.TryRead(out (string Method, string Path, byte[] Body) export))
        {
            lastHasExitCode = Encoding.UTF8.GetString(export.Body).Contains("kaze_host_exit_code", StringComparison.Ordinal);
        }

        Assert.True(lastHasExitCode, "the last export before the stop has no kaze_host_exit_code");
        collector.Stop();
        await answering.Within("the stand-in collector to stop");
    }

    private static async Task<string> FirstExportWithAsync(ChannelReader<(string Method, string Path, byte[] Body)> exports, string name)
    {
        while (true)
        {
            (string method, string path, byte[] body) = await exports.ReadAsync();
            Assert.Equal("POST", method);
            Assert.Equal("/v1/metrics", path);
            string text = Encoding.UTF8.GetString(body);
            if (text.Contains(name, StringComparison.Ordinal))
            {
                return text;
            }
        }
    }

    private static async Task AnswerEveryExportAsync(HttpListener collector, ChannelWriter<(string, string, byte[])> exports)
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await collector.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            // Recorded before answering: once the exporter has its answer, the export is in the channel.
            exports.TryWrite((context.Request.HttpMethod, context.Request.Url!.AbsolutePath, body.ToArray()));

            // An empty ExportMetricsServiceResponse: success.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
