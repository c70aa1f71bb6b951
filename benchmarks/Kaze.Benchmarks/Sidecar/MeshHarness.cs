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
/// <c>mesh [--json FILE] [--calls N] [--depth N] [--size BYTES | --rate N | --callers N] [--seconds S]</c>:
/// real `kaze run` sidecars on loopback, each with a host; host A calls host B (A → sidecar A → TCP →
/// sidecar B → B and back). Without a mode: one call in flight, then pipelined (<c>--depth</c> in
/// flight, 64 by default), beside a plain .NET TCP ping-pong and a TCP pair with as many frames in
/// flight. <c>--size</c>: BYTES one way with 8 in flight (MB/s) and echoed one at a time, beside a TCP
/// pair doing the same. <c>--rate</c>: N calls/s paced, the CPU of every process on both sides per
/// call, then the busiest Kaze process's CPU over the 10 s after. <c>--callers</c>: N callers (each a
/// sidecar and a host) into one node, first one alone, then all at once. Every mode also runs the gRPC
/// baseline (<see cref="GrpcBaseline"/>, Grpc.AspNetCore and Grpc.Net.Client, h2c) in the same run.
/// The share of CPU time the hypervisor stole is reported beside the figures.
/// </summary>
internal static class MeshHarness
{
    public const string Command = "mesh";
    public const string CallerCommand = "mesh-caller";
    public const string ServerCommand = "mesh-server";
    private const int DefaultPipelineDepth = 64;
    private const int PipelinedWindows = 5;
    private const int SizeDepth = 8;
    private const int IdleSeconds = 10;
    private const int DefaultRingSize = 1 << 20;
    private static readonly Ident CallerIdent = new(0x0000_0A01);
    private static readonly Ident ServerIdent = new(0x0000_0A02);

    private enum Mode
    {
        Calls,
        Size,
        Rate,
        Callers,
    }

    public static int Run(string[] args)
    {
        string? json = null;
        int calls = 100_000;
        int depth = DefaultPipelineDepth;
        var mode = Mode.Calls;
        int size = 64;
        int rate = 0;
        int callers = 1;
        double seconds = -1;
        const string usage = "usage: mesh [--json FILE] [--calls N] [--depth N] [--size BYTES | --rate N | --callers N] [--seconds S]\n"
            + "  --depth: calls in flight in the pipelined phase and its TCP baseline (default 64)\n"
            + "  --size: BYTES one way with 8 in flight, and echoed one at a time, beside TCP (S: seconds per window, default 1.5)\n"
            + "  --rate: N calls/s one at a time for S seconds (default 5), CPU per call beside gRPC, then 10 s idle\n"
            + "  --callers: N callers into one node, 64 in flight each, S seconds (default 3), beside one caller alone";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json" when i + 1 < args.Length:
                    json = args[++i];
                    break;
                case "--calls" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int c) && c > 0:
                    calls = c;
                    i++;
                    break;
                case "--depth" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int d) && d > 0:
                    depth = d;
                    i++;
                    break;
                case "--size" when mode == Mode.Calls && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int b) && b > 0 && b <= 64 << 20:
                    mode = Mode.Size;
                    size = b;
                    i++;
                    break;
                case "--rate" when mode == Mode.Calls && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int r) && r > 0 && r <= 1_000_000:
                    mode = Mode.Rate;
                    rate = r;
                    i++;
                    break;
                case "--callers" when mode == Mode.Calls && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out int n) && n > 0 && n <= 32:
                    mode = Mode.Callers;
                    callers = n;
                    i++;
                    break;
                case "--seconds" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out double sec) && sec > 0 && sec <= 60:
                    seconds = sec;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine(usage);
                    return 2;
            }
        }

        if (seconds < 0)
        {
            seconds = mode switch { Mode.Size => 1.5, Mode.Rate => 5, _ => 3 };
        }

        string work = Path.Combine(Path.GetTempPath(), $"kaze-mesh-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        var processes = new List<Process>();
        Process? grpcServer = null;
        try
        {
            // A body must fit in half a ring (with room for its header).
            int ring = DefaultRingSize;
            while (ring / 2 < size + 4096)
            {
                ring *= 2;
            }

            string[] ringFlags = ring == DefaultRingSize ? [] : ["--ring-size", ring.ToString(CultureInfo.InvariantCulture)];
            int portB = FreePort();
            var callerIdents = new Ident[callers];
            int[] callerPorts = new int[callers];
            for (int i = 0; i < callers; i++)
            {
                callerIdents[i] = i == 0 ? CallerIdent : new Ident(0x0000_0B00u + (uint)i);
                callerPorts[i] = FreePort();
            }

            Progress($"sidecar B ({ServerIdent}, 127.0.0.1:{portB}) with an echo host");
            var serverArgs = new List<string> { "run", "--ident", ServerIdent.ToString(), "--listen", $"127.0.0.1:{portB}", "--metrics", "off" };
            for (int i = 0; i < callers; i++)
            {
                serverArgs.AddRange(["--node", $"{callerIdents[i]}=127.0.0.1:{callerPorts[i]}"]);
            }

            serverArgs.AddRange(ringFlags);
            serverArgs.AddRange(["--channel", $"bench-mesh-b-{Environment.ProcessId}", "--", "dotnet", SidecarHarnessSupport.SelfDll, ServerCommand]);
            Process server = Start(processes, SidecarHarnessSupport.Kaze([.. serverArgs]));

            string Inv(double v) => v.ToString(CultureInfo.InvariantCulture);
            string results = Path.Combine(work, "caller.json");
            string[] CallerArgs(int i) => mode switch
            {
                Mode.Size => ["size", Inv(size), Inv(seconds), results],
                Mode.Rate => ["rate", Inv(rate), Inv(seconds), Inv(server.Id), results],
                Mode.Callers => ["fanin", Inv(i), work, Inv(seconds)],
                _ => [Inv(calls), results, Inv(calls), Inv(depth)],
            };

            Progress(mode switch
            {
                Mode.Size => $"sidecar A ({CallerIdent}): {size}-byte bodies to B, {SizeDepth} in flight one way, then echoed one at a time",
                Mode.Rate => $"sidecar A ({CallerIdent}): {rate} calls/s for {seconds} s, then {IdleSeconds} s idle",
                Mode.Callers => $"{callers} callers: the first alone for {seconds} s, then all at once, {DefaultPipelineDepth} in flight each",
                _ => $"sidecar A ({CallerIdent}): {calls} calls to B one at a time, then {PipelinedWindows} windows of {calls} with {depth} in flight",
            });
            var callerProcesses = new List<Process>();
            void StartCaller(int i)
            {
                var callerArgs = new List<string>
                {
                    "run", "--ident", callerIdents[i].ToString(), "--listen", $"127.0.0.1:{callerPorts[i]}", "--metrics", "off",
                    "--node", $"{ServerIdent}=127.0.0.1:{portB}",
                };
                callerArgs.AddRange(ringFlags);
                callerArgs.AddRange(["--channel", $"bench-mesh-a{i}-{Environment.ProcessId}", "--", "dotnet", SidecarHarnessSupport.SelfDll, CallerCommand]);
                callerArgs.AddRange(CallerArgs(i));
                callerProcesses.Add(Start(processes, SidecarHarnessSupport.Kaze([.. callerArgs])));
            }

            // Fan-in: the others start after caller 0's round alone, so that it does not share the cores with their idle processes.
            StartCaller(0);
            if (mode != Mode.Callers)
            {
                for (int i = 1; i < callers; i++)
                {
                    StartCaller(i);
                }
            }

            var figures = new List<(string Name, double Value, string Target, bool? Met)>();
            void Add(string name, double value, string target = "", bool? met = null) => figures.Add((name, value, target, met));
            if (mode == Mode.Callers)
            {
                (double single, double all) = FanIn(work, callers, callerProcesses, StartCaller);
                Add("rpc_calls_per_s_pipelined", all);
                Add("single_caller_calls_per_s_pipelined", single);
                Add("fanin_over_single_caller", all / single, "≥ 1.5 (4 callers)", callers < 4 ? null : all / single >= 1.5);
                Add("callers", callers);
            }

            foreach (Process caller in callerProcesses)
            {
                if (!caller.WaitForExit(TimeSpan.FromMinutes(5)))
                {
                    throw new TimeoutException("a calling sidecar did not finish within 5 minutes");
                }

                if (caller.ExitCode != 0)
                {
                    throw new InvalidOperationException($"a calling sidecar exited {caller.ExitCode}");
                }
            }

            Stop(server);
            Dictionary<string, double> r = mode == Mode.Callers ? [] : JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(results))!;
            int grpcPort = FreePort();
            grpcServer = GrpcBaseline.StartServer(grpcPort);
            switch (mode)
            {
                case Mode.Size:
                {
                    Progress($"baselines: TCP loopback between two processes, {size} B: {SizeDepth} in flight one way, then ping-pong; gRPC");
                    double tcpMb = SocketBaselines.TcpOneWayBytesPerSecond(size, SizeDepth, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(3 * seconds), CancellationToken.None) / 1e6;
                    int roundTrips = RoundTripsAt(size);
                    LatencyStats tcp = SocketBaselines.TcpRoundTrips(size, roundTrips, Math.Max(100, roundTrips / 10), CancellationToken.None);
                    Dictionary<string, double> g = GrpcBaseline.RunClient(grpcPort, grpcServer.Id, "size", Inv(size), Inv(seconds));
                    Add("body_bytes", size);
                    Add("rpc_mb_per_s_pipelined", r["rpc_mb_per_s_pipelined"]);
                    Add("tcp_mb_per_s_pipelined", tcpMb);
                    Add("grpc_mb_per_s_pipelined", g["grpc_mb_per_s_pipelined"]);
                    Add("rpc_over_tcp_mb_per_s", r["rpc_mb_per_s_pipelined"] / tcpMb, "≥ 0.6", r["rpc_mb_per_s_pipelined"] / tcpMb >= 0.6);
                    Add("rpc_rtt_p50_us", r["rpc_rtt_p50_us"]);
                    Add("tcp_rtt_p50_us", tcp.P50Us);
                    Add("rpc_over_tcp_rtt_p50", r["rpc_rtt_p50_us"] / tcp.P50Us, "≤ 2", r["rpc_rtt_p50_us"] / tcp.P50Us <= 2);
                    Add("grpc_rtt_p50_us", g["grpc_rtt_p50_us"]);
                    Add("grpc_calls_per_s_pipelined", g["grpc_calls_per_s_pipelined"]);
                    Add("steal_percent_pipelined", r["steal_percent_pipelined"]);
                    break;
                }

                case Mode.Rate:
                {
                    Progress($"baseline: gRPC, {rate} calls/s for {seconds} s");
                    Dictionary<string, double> g = GrpcBaseline.RunClient(grpcPort, grpcServer.Id, "paced", Inv(rate), Inv(seconds));
                    Add("rate_calls_per_s", rate);
                    Add("rpc_cpu_us_per_call", r["rpc_cpu_us_per_call"]);
                    Add("grpc_cpu_us_per_call", g["grpc_cpu_us_per_call"]);
                    Add("rpc_over_grpc_cpu", r["rpc_cpu_us_per_call"] / g["grpc_cpu_us_per_call"], "≤ 0.5", r["rpc_cpu_us_per_call"] / g["grpc_cpu_us_per_call"] <= 0.5);
                    Add("rpc_rtt_p50_us", r["rpc_rtt_p50_us"]);
                    Add("grpc_rtt_p50_us", g["grpc_rtt_p50_us"]);
                    Add("rpc_over_grpc_rtt_p50", r["rpc_rtt_p50_us"] / g["grpc_rtt_p50_us"], "≤ 0.5", r["rpc_rtt_p50_us"] / g["grpc_rtt_p50_us"] <= 0.5);
                    Add("idle_cpu_percent_max", r["idle_cpu_percent_max"], "≤ 0.5", r["idle_cpu_percent_max"] <= 0.5);
                    Add("grpc_calls_per_s_pipelined", g["grpc_calls_per_s_pipelined"]);
                    Add("steal_percent_paced", r["steal_percent_paced"]);
                    break;
                }

                case Mode.Callers:
                {
                    Progress("baseline: gRPC, 64 B one at a time, then 64 in flight");
                    Dictionary<string, double> g = GrpcBaseline.RunClient(grpcPort, grpcServer.Id, "calls", "20000");
                    Add("grpc_rtt_p50_us", g["grpc_rtt_p50_us"]);
                    Add("grpc_calls_per_s_pipelined", g["grpc_calls_per_s_pipelined"]);
                    break;
                }

                default:
                {
                    foreach (string name in new[] { "rpc_rtt_p50_us", "rpc_rtt_p99_us", "rpc_rtt_p999_us", "rpc_calls_per_s_one_in_flight", "rpc_calls_per_s_pipelined", "rpc_calls_per_s_pipelined_min", "rpc_calls_per_s_pipelined_max", "steal_percent_one_in_flight", "steal_percent_pipelined" })
                    {
                        Add(name, r[name]);
                    }

                    Progress($"baselines: .NET TCP loopback between two processes, 64 B: ping-pong, then {depth} in flight; gRPC");
                    LatencyStats tcp = SocketBaselines.TcpRoundTrips(64, 50_000, 5_000, CancellationToken.None);
                    double tcpPipelined = SocketBaselines.TcpPipelined(64, 1_000_000, depth, CancellationToken.None);
                    Dictionary<string, double> g = GrpcBaseline.RunClient(grpcPort, grpcServer.Id, "calls", "20000");
                    double p50 = r["rpc_rtt_p50_us"];
                    double pipelined = r["rpc_calls_per_s_pipelined"];
                    Add("tcp_rtt_p50_us", tcp.P50Us);
                    Add("tcp_rtt_p99_us", tcp.P99Us);
                    Add("rpc_rtt_p50_minus_tcp_us", p50 - tcp.P50Us, "≤ 30 µs", p50 - tcp.P50Us <= 30);
                    Add("tcp_calls_per_s_pipelined", tcpPipelined);
                    Add("grpc_rtt_p50_us", g["grpc_rtt_p50_us"]);
                    Add("grpc_calls_per_s_pipelined", g["grpc_calls_per_s_pipelined"]);
                    Add("pipeline_depth", depth);
                    figures[4] = (figures[4].Name, pipelined, "≥ 200,000", pipelined >= 200_000);
                    break;
                }
            }

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
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or JsonException or KeyNotFoundException or SocketException or HarnessException or FormatException)
        {
            Console.Error.WriteLine("mesh benchmark failed: " + e.Message);
            return 1;
        }
        finally
        {
            foreach (Process process in processes)
            {
                Stop(process);
                process.Dispose();
            }

            if (grpcServer is not null)
            {
                if (!grpcServer.HasExited)
                {
                    grpcServer.Kill(entireProcessTree: true);
                    grpcServer.WaitForExit(TimeSpan.FromSeconds(10));
                }

                grpcServer.Dispose();
            }

            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Round trips timed at <paramref name="size"/> bytes: about 256 MiB each way, from 500 to 20,000.</summary>
    private static int RoundTripsAt(int size) => Math.Clamp((256 << 20) / size, 500, 20_000);

    /// <summary>
    /// The fan-in rounds, coordinated through files in <paramref name="work"/>: each caller writes
    /// <c>ready-I</c> after its warm-up; round 0 (<c>go-0</c>) runs caller 0 alone, before the others
    /// are started; round 1 (<c>go-1</c>) all of them; each participant writes its calls/s into <c>done-R-I</c>.
    /// </summary>
    private static (double Single, double All) FanIn(string work, int callers, List<Process> callerProcesses, Action<int> startCaller)
    {
        void Await(string file, string what)
        {
            long deadline = Stopwatch.GetTimestamp() + 120 * Stopwatch.Frequency;
            while (!File.Exists(Path.Combine(work, file)))
            {
                if (callerProcesses.Any(p => p.HasExited))
                {
                    throw new InvalidOperationException($"a caller exited while waiting for {what}");
                }

                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException($"{what} did not come within 120 s");
                }

                Thread.Sleep(20);
            }
        }

        double Read(string file) => double.Parse(File.ReadAllText(Path.Combine(work, file)), CultureInfo.InvariantCulture);
        Await("ready-0", "caller 0's warm-up");
        File.WriteAllText(Path.Combine(work, "go-0"), "");
        Await("done-0-0", "the single caller's round");
        double single = Read("done-0-0");
        for (int i = 1; i < callers; i++)
        {
            startCaller(i);
        }

        for (int i = 1; i < callers; i++)
        {
            Await($"ready-{i}", $"caller {i}'s warm-up");
        }

        File.WriteAllText(Path.Combine(work, "go-1"), "");
        double all = 0;
        for (int i = 0; i < callers; i++)
        {
            Await($"done-1-{i}", $"caller {i}'s share of the fan-in round");
            all += Read($"done-1-{i}");
        }

        return (single, all);
    }

    private static Process Start(List<Process> processes, ProcessStartInfo info)
    {
        Process process = Process.Start(info)!;
        processes.Add(process);
        return process;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            // SIGTERM: kaze asks its host to exit and removes its channel file.
            Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Host B: answers echo until the sidecar asks it to exit.</summary>
    public static int Server()
    {
        using KazeClient client = KazeClient.ConnectFromEnvironment();
        client.AddHandler("echo", static (request, _) => new ValueTask<KazeReply>(KazeReply.Ok(request.Body)));
        client.AddHandler("sink", static (_, _) => new ValueTask<KazeReply>(KazeReply.Ok(ReadOnlyMemory<byte>.Empty)));
        client.Start();
        client.ExitRequested.WaitHandle.WaitOne();
        return 0;
    }

    /// <summary>Host A: calls B, waits until B answers first (the sidecars connect on demand), then measures.</summary>
    public static int Caller(string[] args)
    {
        if (args.Length > 0 && args[0] is "size" or "rate" or "fanin")
        {
            using KazeClient modal = KazeClient.ConnectFromEnvironment(new KazeClientOptions { CompleteCallsInline = true });
            modal.Start();
            return args[0] switch
            {
                "size" => SizeCallerAsync(modal, int.Parse(args[1], CultureInfo.InvariantCulture), double.Parse(args[2], CultureInfo.InvariantCulture), args[3]).GetAwaiter().GetResult(),
                "rate" => RateCallerAsync(modal, int.Parse(args[1], CultureInfo.InvariantCulture), double.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), args[4]).GetAwaiter().GetResult(),
                _ => FanInCallerAsync(modal, int.Parse(args[1], CultureInfo.InvariantCulture), args[2], double.Parse(args[3], CultureInfo.InvariantCulture)).GetAwaiter().GetResult(),
            };
        }

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

    private static async Task<bool> AwaitServerAsync(KazeClient client)
    {
        long deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (!(await client.CallAsync(ServerIdent, "echo", new byte[64], TimeSpan.FromSeconds(1)).ConfigureAwait(false)).IsOk)
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Console.Error.WriteLine("mesh caller: host B did not answer within 30 s");
                return false;
            }

            await Task.Delay(100).ConfigureAwait(false); // B's sidecar and host are still starting
        }

        return true;
    }

    /// <summary>--size: bodies of <paramref name="size"/> bytes sunk with 8 in flight (MB/s, one way), then echoed one at a time.</summary>
    private static async Task<int> SizeCallerAsync(KazeClient client, int size, double seconds, string results)
    {
        if (!await AwaitServerAsync(client).ConfigureAwait(false))
        {
            return 1;
        }

        byte[] body = new byte[size];
        Random.Shared.NextBytes(body);
        var timeout = TimeSpan.FromSeconds(30);
        async Task Sink() => Check(await client.CallAsync(ServerIdent, "sink", body, timeout).ConfigureAwait(false));
        async Task Echo() => Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
        await LoadShapes.InFlightFor(Sink, SizeDepth, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        SidecarHarnessSupport.MachineCpu machineBefore = SidecarHarnessSupport.MachineCpu.Now();
        double perSecond = await LoadShapes.InFlightMedian(Sink, SizeDepth, TimeSpan.FromSeconds(seconds), 3).ConfigureAwait(false);
        double stolen = SidecarHarnessSupport.MachineCpu.Now().StolenPercentSince(machineBefore);
        int roundTrips = RoundTripsAt(size);
        for (int i = 0; i < Math.Max(100, roundTrips / 10); i++)
        {
            await Echo().ConfigureAwait(false);
        }

        long[] ticks = new long[roundTrips];
        for (int i = 0; i < ticks.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await Echo().ConfigureAwait(false);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        File.WriteAllText(results, JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["rpc_mb_per_s_pipelined"] = perSecond * size / 1e6,
            ["rpc_rtt_p50_us"] = LatencyStats.FromTicks(ticks).P50Us,
            ["steal_percent_pipelined"] = stolen,
        }));
        return 0;
    }

    /// <summary>
    /// --rate: 64-byte echoes paced at <paramref name="rate"/>/s; the CPU of this host, its sidecar
    /// (the parent), sidecar B and B's host; then each one's CPU over the <see cref="IdleSeconds"/> after.
    /// </summary>
    private static async Task<int> RateCallerAsync(KazeClient client, int rate, double seconds, int sidecarB, string results)
    {
        if (!await AwaitServerAsync(client).ConfigureAwait(false))
        {
            return 1;
        }

        byte[] body = new byte[64];
        var timeout = TimeSpan.FromSeconds(10);
        for (int i = 0; i < 10_000; i++)
        {
            Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
        }

        List<int> hostB = LoadShapes.ChildrenOf(sidecarB);
        if (hostB.Count != 1)
        {
            Console.Error.WriteLine($"mesh caller: sidecar B ({sidecarB}) has {hostB.Count} child processes, not 1");
            return 1;
        }

        int[] pids = [Environment.ProcessId, LoadShapes.ParentOf(Environment.ProcessId), sidecarB, hostB[0]];
        async Task Echo() => Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
        // This continuation runs on the client's reader thread: block elsewhere.
        await Task.Run(() =>
        {
            SidecarHarnessSupport.MachineCpu machineBefore = SidecarHarnessSupport.MachineCpu.Now();
            double before = LoadShapes.CpuSeconds(pids).Sum();
            long[] ticks = LoadShapes.Paced(Echo, rate, seconds);
            double[] idleFrom = LoadShapes.CpuSeconds(pids);
            double busy = idleFrom.Sum() - before;
            double stolen = SidecarHarnessSupport.MachineCpu.Now().StolenPercentSince(machineBefore);
            long idleStart = Stopwatch.GetTimestamp();
            Thread.Sleep(TimeSpan.FromSeconds(IdleSeconds));
            double[] idleTo = LoadShapes.CpuSeconds(pids);
            double idleSeconds = Stopwatch.GetElapsedTime(idleStart).TotalSeconds;
            double idleMax = 0;
            for (int i = 0; i < pids.Length; i++)
            {
                idleMax = Math.Max(idleMax, 100 * (idleTo[i] - idleFrom[i]) / idleSeconds);
            }

            File.WriteAllText(results, JsonSerializer.Serialize(new Dictionary<string, double>
            {
                ["rpc_cpu_us_per_call"] = busy * 1e6 / ticks.Length,
                ["rpc_rtt_p50_us"] = LatencyStats.FromTicks(ticks).P50Us,
                ["idle_cpu_percent_max"] = idleMax,
                ["steal_percent_paced"] = stolen,
            }));
        }).ConfigureAwait(false);
        return 0;
    }

    /// <summary>--callers: warm up, then take part in the rounds <see cref="FanIn"/> starts (round 0: caller 0 alone).</summary>
    private static async Task<int> FanInCallerAsync(KazeClient client, int index, string work, double seconds)
    {
        if (!await AwaitServerAsync(client).ConfigureAwait(false))
        {
            return 1;
        }

        byte[] body = new byte[64];
        var timeout = TimeSpan.FromSeconds(10);
        async Task Echo() => Check(await client.CallAsync(ServerIdent, "echo", body, timeout).ConfigureAwait(false));
        for (int i = 0; i < 10_000; i++)
        {
            await Echo().ConfigureAwait(false);
        }

        File.WriteAllText(Path.Combine(work, $"ready-{index}"), "");
        for (int round = 0; round < 2; round++)
        {
            long deadline = Stopwatch.GetTimestamp() + 180 * Stopwatch.Frequency;
            while (!File.Exists(Path.Combine(work, $"go-{round}")))
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    Console.Error.WriteLine($"mesh caller {index}: round {round} did not start within 180 s");
                    return 1;
                }

                await Task.Delay(1).ConfigureAwait(false);
            }

            if (round == 1 || index == 0)
            {
                double perSecond = await LoadShapes.InFlightFor(Echo, DefaultPipelineDepth, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
                // Written whole, then renamed: the harness reads it as soon as the name exists.
                string done = Path.Combine(work, $"done-{round}-{index}");
                File.WriteAllText(done + ".tmp", perSecond.ToString("R", CultureInfo.InvariantCulture));
                File.Move(done + ".tmp", done);
            }
        }

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
        Console.WriteLine("| figure                              |        value | target      | met |");
        Console.WriteLine("|-------------------------------------|--------------|-------------|-----|");
        foreach ((string name, double value, string target, bool? met) in figures)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name,-35} | {value,12:0.00} | {target,-11} | {(met is null ? "" : met.Value ? "yes" : "NO"),-3} |"));
        }
    }

    private static void Progress(string step) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {step}");
}
