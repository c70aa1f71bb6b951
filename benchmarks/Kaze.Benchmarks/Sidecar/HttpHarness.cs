using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kaze.Benchmarks.Core.CrossProcess;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Benchmarks.Sidecar;

/// <summary>
/// <c>http [--json FILE] [--requests N] [--seconds S]</c>: an unmodified HTTP app reached three
/// ways from this process, in the same run: directly; through one YARP reverse proxy (a separate
/// process, <c>http-yarp</c>, the baseline of a proxy hop); and through two real `kaze run`
/// sidecars (client → sidecar A's loopback port → TCP → sidecar B → the app). For each: POSTs of
/// 1 KiB echoed back, one in flight (latency) and 64 in flight (requests/s). Then 64 MiB bodies
/// down and up through the sidecars (MB/s), and each sidecar's memory during a 100 MB download
/// and a 100 MB upload.
/// </summary>
internal static class HttpHarness
{
    public const string Command = "http";
    public const string AppCommand = "http-app";
    public const string YarpCommand = "http-yarp";
    private const int Concurrency = 64;
    private const int BodySize = 1024;
    private const long BigBody = 64L << 20;
    private const long MemoryBody = 100_000_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static int Run(string[] args)
    {
        string? json = null;
        int requests = 20_000;
        double seconds = 5;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json" when i + 1 < args.Length:
                    json = args[++i];
                    break;
                case "--requests" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int n) && n > 0:
                    requests = n;
                    i++;
                    break;
                case "--seconds" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out double s) && s > 0:
                    seconds = s;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine("usage: http [--json FILE] [--requests N] [--seconds S]  (N: requests timed one at a time per target, default 20000; S: seconds of each 64-in-flight window, default 5)");
                    return 2;
            }
        }

        int[] ports = FreePorts(5);
        (int listenA, int listenB, int appPort, int httpPort, int yarpPort) = (ports[0], ports[1], ports[2], ports[3], ports[4]);
        var processes = new List<Process>();
        try
        {
            Progress($"the app on 127.0.0.1:{appPort} under sidecar B (0.0.11.2, --app-port); sidecar A (0.0.11.1) with --http-port {httpPort}; YARP on {yarpPort}");
            Process b = Start(processes, SidecarHarnessSupport.Kaze(
                "run", "--ident", "0.0.11.2", "--listen", $"127.0.0.1:{listenB}", "--metrics", "off", "--channel", $"bench-http-b-{Environment.ProcessId}",
                "--app-port", Port(appPort), "--", "dotnet", SidecarHarnessSupport.SelfDll, AppCommand, Port(appPort)));
            Process a = Start(processes, SidecarHarnessSupport.Kaze(
                "run", "--ident", "0.0.11.1", "--listen", $"127.0.0.1:{listenA}", "--metrics", "off", "--channel", $"bench-http-a-{Environment.ProcessId}",
                "--node", $"0.0.11.2=127.0.0.1:{listenB}", "--http-port", Port(httpPort), "--", "sleep", "100000"));
            Start(processes, new ProcessStartInfo("dotnet", [SidecarHarnessSupport.SelfDll, YarpCommand, Port(yarpPort), Port(appPort)]) { UseShellExecute = false });

            string direct = $"http://127.0.0.1:{appPort}";
            string yarp = $"http://127.0.0.1:{yarpPort}";
            string mesh = $"http://127.0.0.1:{httpPort}/0.0.11.2";
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2 * Concurrency, UseProxy = false, AllowAutoRedirect = false }) { Timeout = Deadline };
            foreach (string target in new[] { direct, yarp, mesh })
            {
                WaitUntilAnswers(client, target);
            }

            var figures = new List<(string Name, double Value, string Target, bool? Met)>();
            byte[] body = new byte[BodySize];
            Random.Shared.NextBytes(body);
            Progress($"warm-up: 5000 requests each way, and 64 MiB down and up through the sidecars");
            foreach (string target in new[] { direct, yarp, mesh })
            {
                OneAtATime(client, target, body, 5000);
                InFlight(client, target, body, TimeSpan.FromSeconds(1));
            }

            Download(client, mesh, BigBody);
            Upload(client, mesh, BigBody);

            var p50 = new Dictionary<string, LatencyStats>();
            var rps = new Dictionary<string, double>();
            SidecarHarnessSupport.MachineCpu before = SidecarHarnessSupport.MachineCpu.Now();
            foreach ((string name, string target) in new[] { ("direct", direct), ("yarp", yarp), ("http", mesh) })
            {
                Progress($"{name}: {requests} POSTs of 1 KiB one at a time, then {seconds} s with {Concurrency} in flight");
                p50[name] = OneAtATime(client, target, body, requests);
                rps[name] = InFlight(client, target, body, TimeSpan.FromSeconds(seconds));
            }

            double stolen = SidecarHarnessSupport.MachineCpu.Now().StolenPercentSince(before);
            Progress("64 MiB down and up through the sidecars, three times each (the median is reported)");
            var down = new List<double>();
            var up = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                down.Add(Download(client, mesh, BigBody));
                up.Add(Upload(client, mesh, BigBody));
            }

            double directDown = Download(client, direct, BigBody);
            Progress("100 MB down, then 100 MB up, through the sidecars, sampling each sidecar's memory every 10 ms");
            (long aDown, long bDown) = Memory(a, b, () => Download(client, mesh, MemoryBody));
            (long aUp, long bUp) = Memory(a, b, () => Upload(client, mesh, MemoryBody));

            figures.Add(("direct_p50_us", p50["direct"].P50Us, "", null));
            figures.Add(("direct_p99_us", p50["direct"].P99Us, "", null));
            figures.Add(("yarp_p50_us", p50["yarp"].P50Us, "", null));
            figures.Add(("yarp_p99_us", p50["yarp"].P99Us, "", null));
            figures.Add(("http_p50_us", p50["http"].P50Us, "≤ 2 × yarp", p50["http"].P50Us <= 2 * p50["yarp"].P50Us));
            figures.Add(("http_p99_us", p50["http"].P99Us, "", null));
            figures.Add(("direct_rps_64", rps["direct"], "", null));
            figures.Add(("yarp_rps_64", rps["yarp"], "", null));
            figures.Add(("http_rps_64", rps["http"], "≥ 60 % direct", rps["http"] >= 0.6 * rps["direct"]));
            figures.Add(("http_rps_64_percent_of_direct", 100 * rps["http"] / rps["direct"], "", null));
            figures.Add(("http_mb_per_s_64mib", SidecarHarnessSupport.Median(down), "≥ 500", SidecarHarnessSupport.Median(down) >= 500));
            figures.Add(("http_upload_mb_per_s_64mib", SidecarHarnessSupport.Median(up), "", null));
            figures.Add(("direct_mb_per_s_64mib", directDown, "", null));
            figures.Add(("kaze_a_rss_growth_mb_100mb_down", aDown / 1e6, "≤ 64", aDown <= 64_000_000));
            figures.Add(("kaze_b_rss_growth_mb_100mb_down", bDown / 1e6, "≤ 64", bDown <= 64_000_000));
            figures.Add(("kaze_a_rss_growth_mb_100mb_up", aUp / 1e6, "≤ 64", aUp <= 64_000_000));
            figures.Add(("kaze_b_rss_growth_mb_100mb_up", bUp / 1e6, "≤ 64", bUp <= 64_000_000));
            figures.Add(("steal_percent", stolen, "", null));
            Print(figures);
            if (json is not null)
            {
                using FileStream file = File.Create(json);
                using var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
                writer.WriteStartObject();
                foreach ((string name, double value, _, _) in figures)
                {
                    writer.WriteNumber(name, Math.Round(value, 3));
                }

                writer.WriteEndObject();
                Console.WriteLine($"figures written to {json}");
            }

            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or HttpRequestException or TaskCanceledException or SocketException)
        {
            Console.Error.WriteLine("http benchmark failed: " + e.Message);
            return 1;
        }
        finally
        {
            foreach (Process process in processes)
            {
                Stop(process);
            }
        }
    }

    /// <summary>The app: POST /echo answers its body; GET /bytes/N sends N bytes; POST /sink reads and counts.</summary>
    public static int App(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.ListenLocalhost(int.Parse(args[0], CultureInfo.InvariantCulture));
        });
        WebApplication app = builder.Build();
        app.MapPost("/echo", async context =>
        {
            byte[] buffer = new byte[BodySize];
            int length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(length))) > 0)
            {
                length += read;
            }

            context.Response.ContentLength = length;
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, length));
        });
        byte[] chunk = new byte[64 * 1024];
        app.MapGet("/bytes/{n:long}", async (HttpContext context, long n) =>
        {
            context.Response.ContentLength = n;
            for (long at = 0; at < n; at += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, n - at)));
            }
        });
        app.MapPost("/sink", async context =>
        {
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            await context.Response.WriteAsync(total.ToString(CultureInfo.InvariantCulture));
        });
        app.Run();
        return 0;
    }

    /// <summary>One YARP hop: every request forwarded to the app with IHttpForwarder, as YARP's direct forwarding sample does.</summary>
    public static int Yarp(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            k.ListenLocalhost(int.Parse(args[0], CultureInfo.InvariantCulture));
        });
        builder.Services.AddHttpForwarder();
        WebApplication app = builder.Build();
        string destination = $"http://127.0.0.1:{args[1]}/";
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });
        IHttpForwarder forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        app.Map("/{**catch-all}", async context => await forwarder.SendAsync(context, destination, invoker, ForwarderRequestConfig.Empty, HttpTransformer.Default));
        app.Run();
        return 0;
    }

    private static LatencyStats OneAtATime(HttpClient client, string target, byte[] body, int count)
    {
        long[] ticks = new long[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Echo(client, target, body).GetAwaiter().GetResult();
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        return LatencyStats.FromTicks(ticks);
    }

    private static double InFlight(HttpClient client, string target, byte[] body, TimeSpan window)
    {
        long done = 0;
        long end = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        async Task Lane()
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                await Echo(client, target, body).ConfigureAwait(false);
                Interlocked.Increment(ref done);
            }
        }

        long start = Stopwatch.GetTimestamp();
        Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(Lane))).GetAwaiter().GetResult();
        return done / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static async Task Echo(HttpClient client, string target, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        using HttpResponseMessage response = await client.PostAsync(target + "/echo", content).ConfigureAwait(false);
        byte[] echoed = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK || echoed.Length != body.Length)
        {
            throw new InvalidOperationException($"POST {target}/echo: {(int)response.StatusCode}, {echoed.Length} bytes back");
        }
    }

    /// <summary>GETs <paramref name="length"/> bytes; MB/s (10⁶ bytes).</summary>
    private static double Download(HttpClient client, string target, long length)
    {
        long start = Stopwatch.GetTimestamp();
        using HttpResponseMessage response = client.GetAsync($"{target}/bytes/{length}", HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        using Stream stream = response.Content.ReadAsStream();
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            total += read;
        }

        if (response.StatusCode != HttpStatusCode.OK || total != length)
        {
            throw new InvalidOperationException($"GET {target}/bytes/{length}: {(int)response.StatusCode}, {total} bytes");
        }

        return length / 1e6 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>POSTs <paramref name="length"/> bytes (streamed, with Content-Length); MB/s.</summary>
    private static double Upload(HttpClient client, string target, long length)
    {
        long start = Stopwatch.GetTimestamp();
        using var content = new StreamContent(new ZeroStream(length), 256 * 1024);
        content.Headers.ContentLength = length;
        using HttpResponseMessage response = client.PostAsync(target + "/sink", content).GetAwaiter().GetResult();
        string answer = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (response.StatusCode != HttpStatusCode.OK || answer != length.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"POST {target}/sink of {length} bytes: {(int)response.StatusCode} {answer}");
        }

        return length / 1e6 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Runs <paramref name="transfer"/> while sampling both sidecars' RSS every 10 ms; each one's highest growth over its RSS before.</summary>
    private static (long A, long B) Memory(Process a, Process b, Action transfer)
    {
        long aBefore = SidecarHarnessSupport.ResidentBytes(a.Id);
        long bBefore = SidecarHarnessSupport.ResidentBytes(b.Id);
        long aPeak = aBefore;
        long bPeak = bBefore;
        using var done = new ManualResetEventSlim();
        var sampler = new Thread(() =>
        {
            while (!done.Wait(10))
            {
                aPeak = Math.Max(aPeak, SidecarHarnessSupport.ResidentBytes(a.Id));
                bPeak = Math.Max(bPeak, SidecarHarnessSupport.ResidentBytes(b.Id));
            }
        }) { IsBackground = true };
        sampler.Start();
        try
        {
            transfer();
        }
        finally
        {
            done.Set();
            sampler.Join();
        }

        return (aPeak - aBefore, bPeak - bBefore);
    }

    private static void WaitUntilAnswers(HttpClient client, string target)
    {
        long deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        byte[] body = new byte[BodySize];
        while (true)
        {
            try
            {
                Echo(client, target, body).GetAwaiter().GetResult();
                return;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException && Stopwatch.GetTimestamp() < deadline)
            {
                Thread.Sleep(100); // the processes are still starting; bounded by the deadline
            }
        }
    }

    private static Process Start(List<Process> processes, ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        Process process = Process.Start(info) ?? throw new InvalidOperationException("cannot start " + info.FileName);
        processes.Add(process);
        // Nobody reads the apps' stdout: drain it so a chatty process never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            // SIGTERM: a kaze asks its host to exit and removes its channel file.
            Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
            }
        }

        process.Dispose();
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static void Print(List<(string Name, double Value, string Target, bool? Met)> figures)
    {
        Console.WriteLine();
        Console.WriteLine($"HTTP through two sidecars (client → kaze A → TCP → kaze B → app), beside the app direct and one YARP hop: {MachineInfo.Describe()}");
        Console.WriteLine("| figure                              |        value | target        | met |");
        Console.WriteLine("|-------------------------------------|--------------|---------------|-----|");
        foreach ((string name, double value, string target, bool? met) in figures)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name,-35} | {value,12:0.00} | {target,-13} | {(met is null ? "" : met.Value ? "yes" : "NO"),-3} |"));
        }
    }

    private static void Progress(string step) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {step}");

    /// <summary>A read-only stream of <paramref name="length"/> zero bytes: an upload body that costs no memory.</summary>
    private sealed class ZeroStream(long size) : Stream
    {
        private readonly long _size = size;
        private long _left = size;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _size;

        public override long Position
        {
            get => _size - _left;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, _left);
            Array.Clear(buffer, offset, n);
            _left -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
