using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Kaze.Cli.Tests.Commands;
using Kaze.Cli.Tests.Infrastructure;
using Kaze.TestSupport;
using Xunit;

namespace Kaze.Cli.Tests.Health;

/// <summary>
/// Readiness of real kaze processes: /readyz of `kaze run` before and after its host opens the
/// channel, and `kaze sidecar` telling a real unix datagram socket (standing in for systemd) READY=1
/// when ready and STOPPING=1 on SIGTERM.
/// </summary>
public sealed partial class ReadinessTests : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Run_HostThatNeverOpensTheChannel_IsNotReady_AndSaysSo()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.Run(channel, ["--metrics", "127.0.0.1:0", "--log-level", "info"], "sh", "-c", "echo \"ready $$\"; exec sleep 60");
        await _runs.WaitForReadyChildAsync(kaze, "the sh host to start");
        Uri metrics = await MetricsUrlAsync(kaze);

        (HttpStatusCode status, string body) = await Eventually.UntilAsync(
            () => GetAsync(new Uri(metrics, "/readyz")),
            r => r.Body.Contains("\"host\":", StringComparison.Ordinal) && r.Body.Contains("has not opened the channel", StringComparison.Ordinal),
            "/readyz to show the started host that has not opened the channel",
            describe: r => $"{(int)r.Status} {r.Body}");
        (HttpStatusCode health, string healthBody) = await GetAsync(new Uri(metrics, "/healthz"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("\"status\":\"not ready\"", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health);
        Assert.Equal("{\"status\":\"alive\"}\n", healthBody);
    }

    [Fact]
    public async Task Run_HostThatServes_IsReady_WithThePidThatOpenedTheChannel()
    {
        string channel = _runs.NewChannel();
        KazeProcess kaze = _runs.RunTestHost(channel, ["--metrics", "127.0.0.1:0", "--log-level", "info"], "serve-until-exit");
        string served = await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("serve ready pid=", StringComparison.Ordinal), "Kaze.TestHost serve-until-exit to open the channel");
        string pid = served["serve ready pid=".Length..];
        Uri metrics = await MetricsUrlAsync(kaze);

        (HttpStatusCode status, string body) = await Eventually.UntilAsync(
            () => GetAsync(new Uri(metrics, "/readyz")),
            r => r.Status == HttpStatusCode.OK,
            "/readyz to answer 200 once the host serves",
            describe: r => $"{(int)r.Status} {r.Body}");

        Assert.Contains("\"status\":\"ready\"", body, StringComparison.Ordinal);
        Assert.Contains($"\"host\":{{\"ready\":true,\"detail\":\"pid {pid} has opened the channel\"}}", body, StringComparison.Ordinal);
        Assert.Contains("\"mesh\":{\"ready\":true,\"detail\":\"not listening (listen is off)\"}", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sidecar_UnderNotifySocket_SendsReadyOnceReady_AndStoppingOnSigterm()
    {
        string path = Path.Combine(_runs.Directory, "notify.sock");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(path));
        int port = OperatorCommandRuns.FreePort();
        KazeProcess kaze = _runs.Start(
            ["sidecar", "--ident", "0.0.0.9", "--listen", $"127.0.0.1:{port}", "--metrics", "127.0.0.1:0", "--log-level", "info"],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path });

        string ready = await ReceiveAsync(systemd, "READY=1 from kaze sidecar on NOTIFY_SOCKET", kaze);
        Uri metrics = await MetricsUrlAsync(kaze);
        (HttpStatusCode status, string body) = await Eventually.UntilAsync(
            () => GetAsync(new Uri(metrics, "/readyz")),
            r => r.Status != 0,
            "/readyz of the relay to answer",
            describe: r => $"{(int)r.Status} {r.Body}");
        kaze.Signal(Posix.SIGTERM);
        string stopping = await ReceiveAsync(systemd, "STOPPING=1 from kaze sidecar after SIGTERM", kaze);
        int code = await kaze.WaitForExitAsync("kaze sidecar to exit after SIGTERM");

        Assert.Equal(["READY=1", $"STATUS=kaze sidecar 0.0.0.9 ready: listening on 127.0.0.1:{port}"], ready.Split('\n'));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("\"host\"", body, StringComparison.Ordinal);
        Assert.Equal("STOPPING=1", stopping);
        Assert.True(code == 0, kaze.Describe());
    }

    [Fact]
    public async Task Sidecar_NotifySocketNobodyListensOn_RunsOnAndWarnsOnce()
    {
        string path = Path.Combine(_runs.Directory, "nobody.sock");
        int port = OperatorCommandRuns.FreePort();
        KazeProcess kaze = _runs.Start(
            ["sidecar", "--ident", "0.0.0.9", "--listen", $"127.0.0.1:{port}", "--metrics", "off"],
            new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path });

        string warning = await kaze.Stderr.WaitForLineAsync(l => l.Contains("Could not tell systemd READY=1", StringComparison.Ordinal), "kaze sidecar to warn that READY=1 could not be sent");
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, port).Within("a connection to the relay after the failed notification");
        }

        kaze.Signal(Posix.SIGTERM);
        int code = await kaze.WaitForExitAndOutputAsync("kaze sidecar to exit after SIGTERM");

        Assert.Contains(path, warning, StringComparison.Ordinal);
        Assert.True(code == 0, kaze.Describe());
        Assert.Single(kaze.Stderr.Lines, l => l.Contains("Could not tell systemd READY=1", StringComparison.Ordinal));
    }

    private static async Task<string> ReceiveAsync(Socket socket, string what, KazeProcess kaze)
    {
        byte[] buffer = new byte[4096];
        int length = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().Within(what, context: kaze.Describe);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    /// <summary>The metrics listener's URL, from kaze's "Serving metrics at http://…/metrics" line (port 0 picks a free port).</summary>
    private static async Task<Uri> MetricsUrlAsync(KazeProcess kaze)
    {
        string line = await kaze.Stderr.WaitForLineAsync(l => l.Contains("Serving metrics at http://", StringComparison.Ordinal), "kaze to serve its metrics listener");
        return new Uri(ServingUrl().Match(line).Groups[1].Value);
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(Uri url)
    {
        try
        {
            using HttpResponseMessage response = await Http.GetAsync(url);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException e)
        {
            return (0, e.Message);
        }
    }

    [GeneratedRegex("(http://\\S+)/metrics")]
    private static partial Regex ServingUrl();
}
