using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kaze.Benchmarks.Core.CrossProcess;
using Kaze.Benchmarks.GrpcBench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kaze.Benchmarks.Sidecar;

/// <summary>
/// The mesh harness's gRPC baseline: a Grpc.AspNetCore server (<c>grpc-server PORT</c>, Kestrel,
/// h2c on loopback) and a Grpc.Net.Client caller (<c>grpc-client ...</c>), each its own process,
/// driven by the same <see cref="LoadShapes"/> as Kaze's caller. Echo answers the body; Sink answers
/// an empty message.
/// </summary>
internal static class GrpcBaseline
{
    public const string ServerCommand = "grpc-server";
    public const string ClientCommand = "grpc-client";

    /// <summary>Starts the server on <paramref name="port"/> and waits until it prints <c>ready</c>.</summary>
    public static Process StartServer(int port)
    {
        var info = new ProcessStartInfo("dotnet", [SidecarHarnessSupport.SelfDll, ServerCommand, port.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        Process server = Process.Start(info)!;
        Task<string?> line = server.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result != "ready")
        {
            server.Kill(entireProcessTree: true);
            server.Dispose();
            throw new TimeoutException("the gRPC server did not print 'ready' within 30 s");
        }

        return server;
    }

    /// <summary>Runs the client with <paramref name="mode"/> arguments; returns the figures it wrote.</summary>
    public static Dictionary<string, double> RunClient(int port, int serverPid, params string[] mode)
    {
        string results = Path.Combine(Path.GetTempPath(), $"kaze-grpc-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
            foreach (string arg in new[] { SidecarHarnessSupport.SelfDll, ClientCommand, port.ToString(CultureInfo.InvariantCulture), serverPid.ToString(CultureInfo.InvariantCulture), results }.Concat(mode))
            {
                info.ArgumentList.Add(arg);
            }

            using Process client = Process.Start(info)!;
            if (!client.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                client.Kill(entireProcessTree: true);
                throw new TimeoutException("the gRPC client did not finish within 3 minutes");
            }

            if (client.ExitCode != 0)
            {
                throw new InvalidOperationException($"the gRPC client exited {client.ExitCode}");
            }

            return JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(results))
                ?? throw new InvalidOperationException("the gRPC client wrote no figures");
        }
        finally
        {
            File.Delete(results);
        }
    }

    public static int Server(string[] args)
    {
        int port = int.Parse(args[0], CultureInfo.InvariantCulture);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = null;
            o.MaxSendMessageSize = null;
        });
        WebApplication app = builder.Build();
        app.MapGrpcService<BenchService>();
        app.Start();
        Console.WriteLine("ready");
        // Until the harness kills it, or 10 minutes at most.
        app.WaitForShutdownAsync(new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token).GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>
    /// <c>grpc-client PORT SERVER_PID RESULTS MODE...</c>: <c>calls N</c> (64-byte echoes: N one at a time, then
    /// 64 in flight), <c>paced RATE SECONDS</c> (64-byte echoes, CPU of this process and the server's),
    /// <c>size BYTES SECONDS</c> (Sink of BYTES, 8 in flight: MB/s).
    /// </summary>
    public static int Client(string[] args)
    {
        int port = int.Parse(args[0], CultureInfo.InvariantCulture);
        int serverPid = int.Parse(args[1], CultureInfo.InvariantCulture);
        string results = args[2];
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
        });
        var client = new Bench.BenchClient(channel);
        var small = new Payload { Body = ByteString.CopyFrom(new byte[64]) };
        Task Echo() => client.EchoAsync(small).ResponseAsync;
        var figures = new Dictionary<string, double>();

        // Warm-up: the first calls connect and JIT both sides.
        for (int i = 0; i < 5_000; i++)
        {
            Echo().GetAwaiter().GetResult();
        }

        LoadShapes.InFlightFor(Echo, 64, TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
        switch (args[3])
        {
            case "calls":
            {
                int calls = int.Parse(args[4], CultureInfo.InvariantCulture);
                long[] ticks = new long[calls];
                for (int i = 0; i < calls; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    Echo().GetAwaiter().GetResult();
                    ticks[i] = Stopwatch.GetTimestamp() - start;
                }

                figures["grpc_rtt_p50_us"] = LatencyStats.FromTicks(ticks).P50Us;
                figures["grpc_calls_per_s_pipelined"] = LoadShapes.InFlightMedian(Echo, 64, TimeSpan.FromSeconds(2), 3).GetAwaiter().GetResult();
                break;
            }

            case "paced":
            {
                int rate = int.Parse(args[4], CultureInfo.InvariantCulture);
                double seconds = double.Parse(args[5], CultureInfo.InvariantCulture);
                int[] pids = [Environment.ProcessId, serverPid];
                double before = LoadShapes.CpuSeconds(pids).Sum();
                long[] ticks = LoadShapes.Paced(Echo, rate, seconds);
                double cpu = LoadShapes.CpuSeconds(pids).Sum() - before;
                figures["grpc_rtt_p50_us"] = LatencyStats.FromTicks(ticks).P50Us;
                figures["grpc_cpu_us_per_call"] = cpu * 1e6 / ticks.Length;
                figures["grpc_calls_per_s_pipelined"] = LoadShapes.InFlightMedian(Echo, 64, TimeSpan.FromSeconds(2), 3).GetAwaiter().GetResult();
                break;
            }

            case "size":
            {
                int size = int.Parse(args[4], CultureInfo.InvariantCulture);
                double seconds = double.Parse(args[5], CultureInfo.InvariantCulture);
                byte[] bytes = new byte[size];
                Random.Shared.NextBytes(bytes);
                var big = new Payload { Body = ByteString.CopyFrom(bytes) };
                Task Sink() => client.SinkAsync(big).ResponseAsync;
                LoadShapes.InFlightFor(Sink, 8, TimeSpan.FromSeconds(0.5)).GetAwaiter().GetResult();
                double perSecond = LoadShapes.InFlightMedian(Sink, 8, TimeSpan.FromSeconds(seconds), 3).GetAwaiter().GetResult();
                figures["grpc_mb_per_s_pipelined"] = perSecond * size / 1e6;
                long[] ticks = new long[10_000];
                for (int i = 0; i < ticks.Length; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    Echo().GetAwaiter().GetResult();
                    ticks[i] = Stopwatch.GetTimestamp() - start;
                }

                figures["grpc_rtt_p50_us"] = LatencyStats.FromTicks(ticks).P50Us;
                figures["grpc_calls_per_s_pipelined"] = LoadShapes.InFlightMedian(Echo, 64, TimeSpan.FromSeconds(2), 3).GetAwaiter().GetResult();
                break;
            }

            default:
                Console.Error.WriteLine($"grpc-client: unknown mode '{args[3]}'");
                return 2;
        }

        File.WriteAllText(results, JsonSerializer.Serialize(figures));
        return 0;
    }

    private sealed class BenchService : Bench.BenchBase
    {
        private static readonly GrpcBench.Empty Nothing = new();

        public override Task<Payload> Echo(Payload request, ServerCallContext context) => Task.FromResult(request);

        public override Task<GrpcBench.Empty> Sink(Payload request, ServerCallContext context) => Task.FromResult(Nothing);
    }
}
