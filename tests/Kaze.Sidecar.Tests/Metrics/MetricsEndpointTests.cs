using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Kaze.Protocol;
using Kaze.Sidecar.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>/metrics of a real sidecar: every instrument, the values traffic moves, HTTP behaviour, listen failures.</summary>
public sealed class MetricsEndpointTests
{
    /// <summary>Families present from the start, whatever the traffic.</summary>
    private static readonly string[] AlwaysPresent =
    [
        "kaze_packets_total counter",
        "kaze_bytes_total counter",
        "kaze_dropped_total counter",
        "kaze_decode_errors_total counter",
        "kaze_ring_fill_bytes gauge",
        "kaze_ring_capacity_bytes gauge",
        "kaze_blocked_waits_total counter",
        "kaze_host_queue_packets gauge",
        "kaze_peer_connections gauge",
        "kaze_connection_attempts_total counter",
        "kaze_connection_failures_total counter",
        "kaze_timeouts_total counter",
        "kaze_unreachable_total counter",
        "kaze_resource_exhausted_total counter",
        "kaze_pipeline_errors_total counter",
        "kaze_pending_requests gauge",
        "kaze_host_restarts_total counter",
    ];

    [Fact]
    public async Task Scrape_FreshSidecar_ServesEveryObservedInstrument()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        string text = await sidecar.ScrapeAsync();

        foreach (string family in AlwaysPresent)
        {
            Assert.Contains("# TYPE " + family + "\n", text, StringComparison.Ordinal);
        }

        Assert.Contains("kaze_host_restarts_total 0\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_ring_capacity_bytes{ring=\"sidecar_to_host\"} 65536\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_ring_capacity_bytes{ring=\"host_to_sidecar\"} 65536\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_connection_failures_total{reason=\"auth_failed\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_peer_connections 0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("kaze_host_exit_code", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_RequestToAnUnknownNode_CountsPacketsUnreachableAndTheCallsLatency()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        await sidecar.MetricsUrlAsync();

        Hdr response = await sidecar.CallAsHostAsync(new Ident(9), sequence: 1);

        Assert.Equal((uint)RetCode.Unreachable, response.RetCode);
        string text = await sidecar.ScrapeAsync();
        Assert.Contains("kaze_packets_total{direction=\"host_to_sidecar\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_packets_total{direction=\"sidecar_to_host\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_unreachable_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_connection_failures_total{reason=\"unresolved\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_connection_attempts_total{direction=\"outbound\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE kaze_call_duration_seconds histogram\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_call_duration_seconds_bucket{code=\"unreachable\",le=\"+Inf\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_call_duration_seconds_count{code=\"unreachable\"} 1\n", text, StringComparison.Ordinal);
        Match sum = Regex.Match(text, "kaze_call_duration_seconds_sum\\{code=\"unreachable\"\\} (\\S+)\n");
        Assert.True(sum.Success, text);
        double seconds = double.Parse(sum.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 0, 10);
    }

    [Fact]
    public async Task Scrape_RequestThatTimesOut_IsCountedAsATimeoutCall()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        await sidecar.MetricsUrlAsync();

        // To this node's own host (0.0.0.0): the test is the host and never answers.
        Hdr response = await sidecar.CallAsHostAsync(Ident.Any, sequence: 7, timeoutMs: 50);

        Assert.Equal((uint)RetCode.Timeout, response.RetCode);
        string text = await sidecar.ScrapeAsync();
        Assert.Contains("kaze_timeouts_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_call_duration_seconds_count{code=\"timeout\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("kaze_call_duration_seconds_bucket{code=\"timeout\",le=\"0.025\"} 0\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_HostExitReported_ShowsTheExitCode()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        sidecar.Node.ReportHostExit(3);

        Assert.Contains("# TYPE kaze_host_exit_code gauge\nkaze_host_exit_code 3\n", await sidecar.ScrapeAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_RateLimitedFedByAnotherPart_IsServed()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        KazeMeter meter = sidecar.Services.GetRequiredService<KazeMeter>();
        await sidecar.MetricsUrlAsync();

        meter.RateLimited.Add(2, new KeyValuePair<string, object?>("rule", "total"), new KeyValuePair<string, object?>("reason", "answered"));

        Assert.Contains("kaze_rate_limited_total{reason=\"answered\",rule=\"total\"} 2\n", await sidecar.ScrapeAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scrape_RelaySidecarWithoutHost_HasNoEdgeSeries()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(withHost: false);

        string text = await sidecar.ScrapeAsync();

        Assert.Contains("kaze_packets_total{direction=\"network_in\"} 0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("direction=\"host_to_sidecar\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("kaze_ring_fill_bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_OtherPath_Is404()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        Uri url = new(await sidecar.MetricsUrlAsync(), "/");

        using HttpResponseMessage response = await SidecarUnderTest.SendAsync(new HttpRequestMessage(HttpMethod.Get, url));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Post_Metrics_Is405()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        using HttpResponseMessage response = await SidecarUnderTest.SendAsync(new HttpRequestMessage(HttpMethod.Post, await sidecar.MetricsUrlAsync()));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Head_Metrics_Is200WithNoBody()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();

        using HttpResponseMessage response = await SidecarUnderTest.SendAsync(new HttpRequestMessage(HttpMethod.Head, await sidecar.MetricsUrlAsync()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Listen_AddressInUse_FailsNamingTheAddress_AndTheSidecarRunsOn()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(new Dictionary<string, string?> { ["metrics:listen"] = $"127.0.0.1:{port}" });

        MetricsListenException failure = await Assert.ThrowsAsync<MetricsListenException>(() => sidecar.Metrics.Listening.Within("the listen failure"));
        Assert.Contains($"127.0.0.1:{port}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("--metrics", failure.Message, StringComparison.Ordinal);
        Assert.Equal((uint)RetCode.Unreachable, (await sidecar.CallAsHostAsync(new Ident(9), sequence: 1)).RetCode);
    }

    [Fact]
    public async Task MetricsOff_StartsNoExport_ButTheMeterIsThere()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync(new Dictionary<string, string?> { ["metrics:listen"] = "off" });

        Assert.Null(sidecar.Services.GetService<MetricsService>());
        Assert.NotNull(sidecar.Services.GetService<KazeMeter>());
    }

    [Fact]
    public async Task Stop_RightAfterStart_LeavesNothingListening()
    {
        SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        MetricsService metrics = sidecar.Metrics;

        await sidecar.DisposeAsync();

        // Usually the stop comes before the delayed start, which then gives up; on a slow machine
        // the start may have won the race, and the stop must then have closed the port.
        Task<IPEndPoint> listening = metrics.Listening;
        await ((Task)listening).ContinueWith(_ => { }, TaskScheduler.Default).Within("the background start to end");
        if (listening.IsCompletedSuccessfully)
        {
            using var client = new TcpClient();
            await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(listening.Result));
        }
        else
        {
            Assert.True(listening.IsCanceled, listening.Exception?.ToString());
        }
    }
}
