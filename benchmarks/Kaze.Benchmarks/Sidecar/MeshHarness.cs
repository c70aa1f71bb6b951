using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kaze.Benchmarks.Core.CrossProcess;
using Kaze.Host;
using Kaze.Protocol;

namespace Kaze.Benchmarks.Sidecar;

/// <summary>
/// <c>mesh [--json FILE] [--calls N] [--depth N]</c>: two real `kaze run` sidecars on loopback, each with a
/// host; host A calls host B (A → sidecar A → TCP → sidecar B → B and back), one call in flight
/// and pipelined (<c>--depth</c> calls in flight, 64 by default). The baselines, measured in the same run: a plain .NET TCP loopback ping-pong
/// between two processes, and the same pair with as many frames in flight, batched at both ends.
/// The share of CPU time the hypervisor stole during each phase is reported beside the figures.
/// </summary>
internal static class MeshHarness
{
    public const string Command = "mesh";
    public const string CallerCommand = "mesh-caller";
    public const string ServerCommand = "mesh-server";
    private const int DefaultPipelineDepth = 64;
    private const int PipelinedWindows = 5;
    private static readonly Ident CallerIdent = new(0x0000_0A01);
    private static readonly Ident ServerIdent = new(0x0000_0A02);

    public static int Run(string[] args)
    {
        string? json = null;
        int calls = 100_000;
        int depth = DefaultPipelineDepth;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json" when i + 1 < args.Length:
                    json = args[++i];
                    break;
                case "--calls" when i + 1 < args.Length:
                    calls = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--depth" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int d) && d > 0:
                    depth = d;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine("usage: mesh [--json FILE] [--calls N] [--depth N]  (--depth: calls in flight in the pipelined phase and its TCP baseline, default 64)");
                    return 2;
            }
        }

        string results = Path.Combine(Path.GetTempPath(), $"kaze-mesh-{Environment.ProcessId}.json");
        int portA = FreePort();
        int portB = FreePort();
        Process? server = null;
        try
        {
            Progress($"sidecar B ({ServerIdent}, 127.0.0.1:{portB}) with an echo host");
            server = Process.Start(SidecarHarnessSupport.Kaze(
                "run", "--ident", ServerIdent.ToString(), "--listen", $"127.0.0.1:{portB}", "--metrics", "off",
                "--node", $"{CallerIdent}=127.0.0.1:{portA}", "--channel", $"bench-mesh-b-{Environment.ProcessId}",
                "--", "dotnet", SidecarHarnessSupport.SelfDll, ServerCommand))!;

            Progress($"sidecar A ({CallerIdent}, 127.0.0.1:{portA}): {calls} calls to B one at a time, then {PipelinedWindows} windows of {calls} with {depth} in flight");
            using (Process caller = Process.Start(SidecarHarnessSupport.Kaze(
                "run", "--ident", CallerIdent.ToString(), "--listen", $"127.0.0.1:{portA}", "--metrics", "off",
                "--node", $"{ServerIdent}=127.0.0.1:{portB}", "--channel", $"bench-mesh-a-{Environment.ProcessId}",
                "--", "dotnet", SidecarHarnessSupport.SelfDll, CallerCommand, calls.ToString(CultureInfo.InvariantCulture), results,
                calls.ToString(CultureInfo.InvariantCulture), depth.ToString(CultureInfo.InvariantCulture)))!)
            {
                if (!caller.WaitForExit(TimeSpan.FromMinutes(5)))
                {
                    caller.Kill(entireProcessTree: true);
                    throw new TimeoutException("the calling sidecar did not finish within 5 minutes");
                }

                if (caller.ExitCode != 0)
                {
                    throw new InvalidOperationException($"the calling sidecar exited {caller.ExitCode}");
                }
            }

            var figures = new List<(string Name, double Value, string Target, bool? Met)>();
            using (JsonDocument doc = JsonDocument.Parse(File.ReadAllText(results)))
            {
                JsonElement r = doc.RootElement;
                foreach (string name in new[] { "rpc_rtt_p50_us", "rpc_rtt_p99_us", "rpc_rtt_p999_us", "rpc_calls_per_s_one_in_flight", "rpc_calls_per_s_pipelined", "rpc_calls_per_s_pipelined_min", "rpc_calls_per_s_pipelined_max", "steal_percent_one_in_flight", "steal_percent_pipelined" })
                {
                    figures.Add((name, r.GetProperty(name).GetDouble(), "", null));
                }
            }

            Progress($"baselines: .NET TCP loopback between two processes, 64 B: ping-pong, then {depth} in flight");
            LatencyStats tcp = SocketBaselines.TcpRoundTrips(64, 50_000, 5_000, CancellationToken.None);
            double tcpPipelined = SocketBaselines.TcpPipelined(64, 1_000_000, depth, CancellationToken.None);
            double p50 = figures[0].Value;
            double pipelined = figures[4].Value;
            figures.Add(("tcp_rtt_p50_us", tcp.P50Us, "", null));
            figures.Add(("tcp_rtt_p99_us", tcp.P99Us, "", null));
            figures.Add(("rpc_rtt_p50_minus_tcp_us", p50 - tcp.P50Us, "≤ 30 µs", p50 - tcp.P50Us <= 30));
            figures.Add(("tcp_calls_per_s_pipelined", tcpPipelined, "", null));
            figures.Add(("pipeline_depth", depth, "", null));
            figures[4] = (figures[4].Name, pipelined, "≥ 200,000", pipelined >= 200_000);
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
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or JsonException or KeyNotFoundException or SocketException or HarnessException)
        {
            Console.Error.WriteLine("mesh benchmark failed: " + e.Message);
            return 1;
        }
        finally
        {
            if (server is not null)
            {
                if (!server.HasExited)
                {
                    // SIGTERM: kaze asks its host to exit and removes its channel file.
                    Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
                    if (!server.WaitForExit(TimeSpan.FromSeconds(10)))
                    {
                        server.Kill(entireProcessTree: true);
                    }
                }

                server.Dispose();
            }

            File.Delete(results);
        }
    }

    /// <summary>Host B: answers echo until the sidecar asks it to exit.</summary>
    public static int Server()
    {
        using KazeClient client = KazeClient.ConnectFromEnvironment();
        client.AddHandler("echo", static (request, _) => new ValueTask<KazeReply>(KazeReply.Ok(request.Body)));
        client.Start();
        client.ExitRequested.WaitHandle.WaitOne();
        return 0;
    }

    /// <summary>Host A: calls B, waits until B answers first (the sidecars connect on demand), then measures.</summary>
    public static int Caller(string[] args)
    {
        int calls = int.Parse(args[0], CultureInfo.InvariantCulture);
        string results = args[1];
        // For profiling the pipelined phase alone: mesh-caller <calls> <results> [<pipelined calls> [<depth>]].
        int pipelinedCalls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : calls;
        int depth = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : DefaultPipelineDepth;
        // Each call's continuation runs on the client's reader thread (nothing after an await here
        // blocks), as a latency-minded host would do: no thread-pool hop per call.
        using KazeClient client = KazeClient.ConnectFromEnvironment(new KazeClientOptions { CompleteCallsInline = true });
        client.Start();
        return CallerAsync(client, calls, pipelinedCalls, depth, results).GetAwaiter().GetResult();
    }

    private static async Task<int> CallerAsync(KazeClient client, int calls, int pipelinedCalls, int depth, string results)
    {
        byte[] body = new byte[64];
        var timeout = TimeSpan.FromSeconds(10);
        long deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (!(await client.CallAsync(ServerIdent, "echo", body, TimeSpan.FromSeconds(1)).ConfigureAwait(false)).IsOk)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Console.Error.WriteLine("mesh caller: host B did not answer within 30 s");
                return 1;
            }

            await Task.Delay(100).ConfigureAwait(false); // B's sidecar and host are still starting
        }

        for (int i = 0; i < 10_000; i++)
        {
            Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
        }

        long[] ticks = new long[calls];
        SidecarHarnessSupport.MachineCpu machineBefore = SidecarHarnessSupport.MachineCpu.Now();
        long all = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        double oneSeconds = Stopwatch.GetElapsedTime(all).TotalSeconds;
        double oneStolen = SidecarHarnessSupport.MachineCpu.Now().StolenPercentSince(machineBefore);
        LatencyStats stats = LatencyStats.FromTicks(ticks);

        // Several windows, the median reported: one short window on a shared 2-vCPU machine says
        // more about what else ran in it than about the code.
        var rates = new List<double>();
        machineBefore = SidecarHarnessSupport.MachineCpu.Now();
        for (int w = 0; w < PipelinedWindows; w++)
        {
            int next = 0;
            async Task Lane()
            {
                while (Interlocked.Increment(ref next) <= pipelinedCalls)
                {
                    Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
                }
            }

            long windowStart = Stopwatch.GetTimestamp();
            var lanes = new Task[depth];
            for (int i = 0; i < lanes.Length; i++)
            {
                lanes[i] = Lane();
            }

            await Task.WhenAll(lanes).ConfigureAwait(false);
            rates.Add(pipelinedCalls / Stopwatch.GetElapsedTime(windowStart).TotalSeconds);
        }

        File.WriteAllText(results, JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["rpc_rtt_p50_us"] = stats.P50Us,
            ["rpc_rtt_p99_us"] = stats.P99Us,
            ["rpc_rtt_p999_us"] = stats.P999Us,
            ["rpc_calls_per_s_one_in_flight"] = calls / oneSeconds,
            ["rpc_calls_per_s_pipelined"] = SidecarHarnessSupport.Median(rates),
            ["rpc_calls_per_s_pipelined_min"] = rates.Min(),
            ["rpc_calls_per_s_pipelined_max"] = rates.Max(),
            ["steal_percent_one_in_flight"] = oneStolen,
            ["steal_percent_pipelined"] = SidecarHarnessSupport.MachineCpu.Now().StolenPercentSince(machineBefore),
        }));
        return 0;
    }

    private static void Check(KazeResponse response)
    {
        if (!response.IsOk)
        {
            throw new InvalidOperationException($"a call failed: {response.Code}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Print(List<(string Name, double Value, string Target, bool? Met)> figures)
    {
        Console.WriteLine();
        Console.WriteLine($"Kaze mesh calls (host A → sidecar A → TCP → sidecar B → host B): {MachineInfo.Describe()}");
        Console.WriteLine("| figure                          |        value | target      | met |");
        Console.WriteLine("|---------------------------------|--------------|-------------|-----|");
        foreach ((string name, double value, string target, bool? met) in figures)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name,-31} | {value,12:0.00} | {target,-11} | {(met is null ? "" : met.Value ? "yes" : "NO"),-3} |"));
        }
    }

    private static void Progress(string step) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {step}");
}
