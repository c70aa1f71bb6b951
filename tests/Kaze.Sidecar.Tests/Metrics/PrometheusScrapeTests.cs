using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kaze.Sidecar.Tests.TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>A real Prometheus server scrapes a running sidecar, and its query API returns kaze series.</summary>
[Trait("Category", "Integration")]
public sealed class PrometheusScrapeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan QueryDeadline = TimeSpan.FromSeconds(60);

    [RequiresProgramFact("prometheus", "prometheus")]
    public async Task Prometheus_ScrapingTheSidecar_QueryReturnsKazeSeries()
    {
        await using SidecarUnderTest sidecar = await SidecarUnderTest.StartAsync();
        Uri metrics = await sidecar.MetricsUrlAsync();
        using var directory = new TempDirectory();
        int apiPort = FreePort();
        string config = directory.File("prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: kaze
                static_configs:
                  - targets: ['{metrics.Authority}']
            """);
        var start = new ProcessStartInfo(RequiresProgramFactAttribute.FindOnPath("prometheus")!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--config.file=" + config);
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{apiPort}");
        start.ArgumentList.Add("--storage.tsdb.path=" + directory.File("data"));
        using Process prometheus = Process.Start(start)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        prometheus.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        prometheus.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            var stopwatch = Stopwatch.StartNew();
            string series = await QueryUntilFoundAsync(prometheus, apiPort, "kaze_host_restarts_total", log);
            output.WriteLine($"Prometheus returned kaze series after {stopwatch.Elapsed.TotalSeconds:0.0} s: {series}");
            Assert.Contains("\"job\":\"kaze\"", series, StringComparison.Ordinal);

            string packets = await QueryUntilFoundAsync(prometheus, apiPort, "kaze_packets_total{direction=\"host_to_sidecar\"}", log);
            Assert.Contains("host_to_sidecar", packets, StringComparison.Ordinal);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync().Within("Prometheus to exit after being killed");
        }
    }

    /// <summary>Polls the query API until <paramref name="query"/> has a result; returns the result array as JSON.</summary>
    private static async Task<string> QueryUntilFoundAsync(Process prometheus, int port, string query, System.Collections.Concurrent.ConcurrentQueue<string> log)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var url = new Uri($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString(query)}");
        long deadline = Environment.TickCount64 + (long)QueryDeadline.TotalMilliseconds;
        string last = "(no answer yet)";
        while (Environment.TickCount64 < deadline)
        {
            if (prometheus.HasExited)
            {
                throw new XunitException($"Prometheus exited with {prometheus.ExitCode} before its query API returned {query}:{Environment.NewLine}{string.Join(Environment.NewLine, log)}");
            }

            try
            {
                last = await http.GetStringAsync(url);
                using JsonDocument answer = JsonDocument.Parse(last);
                JsonElement result = answer.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    return result.GetRawText();
                }
            }
            catch (HttpRequestException e)
            {
                // Not listening yet.
                last = e.Message;
            }
            catch (TaskCanceledException e)
            {
                last = e.Message;
            }

            await Task.Delay(250);
        }

        throw new XunitException($"Timed out after {QueryDeadline.TotalSeconds:0} s waiting for Prometheus' query API to return {query}; last answer: {last}{Environment.NewLine}{string.Join(Environment.NewLine, log)}");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
