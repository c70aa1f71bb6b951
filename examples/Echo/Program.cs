using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Kaze.Core;
using Kaze.Host;
using Kaze.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kaze.Echo;

/// <summary>
/// A sample host: <c>serve</c> answers <c>echo</c> requests until the sidecar asks it to exit;
/// <c>call</c> calls <c>echo</c> on a node and prints latency percentiles and throughput.
/// </summary>
internal static class Program
{
    private const string EchoBodyType = "echo";

    private const string Usage = """
        usage: kaze run -- Kaze.Echo serve
               kaze run -- Kaze.Echo call <ident> <count> [--pipeline N] [--size BYTES] [--timeout MS]

          serve   answer `echo` requests (the body is sent back) until the sidecar's exit request
          call    call `echo` on <ident> <count> times, N in flight (default 1), with BYTES-byte
                  bodies (default 64) and a timeout of MS each (default 5000); verifies every
                  response and prints p50/p99/max latency in µs and calls per second.
                  `call` serves `echo` too, so `call <own ident> N` calls itself.
        exit codes: 0 all good; 1 some calls failed or the sidecar was lost; 2 usage or environment error
        """;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            if (args is ["serve"])
            {
                return await ServeAsync();
            }

            if (args is ["call", ..])
            {
                return CallOptions.TryParse(args.AsSpan(1), out CallOptions? options, out string? error)
                    ? await CallAsync(options)
                    : Fail(error);
            }

            return Fail(null);
        }
        catch (Exception e) when (e is KazeHostException or ChannelException)
        {
            Console.Error.WriteLine("Kaze.Echo: " + e.Message);
            return 2;
        }
    }

    private static ValueTask<KazeReply> Echo(KazeRequest request, CancellationToken ct) =>
        ValueTask.FromResult(KazeReply.Ok(request.Body, EchoBodyType));

    private static async Task<int> ServeAsync()
    {
        // AddKazeHost would find a missing environment too, when the host starts; checking first
        // gives the user the one-line message instead of the Generic Host's logged stack trace.
        _ = SidecarEndpoint.FromEnvironment();
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddKazeHost().AddHandler(EchoBodyType, Echo);
        using IHost host = builder.Build();
        await host.StartAsync();
        KazeClient client = host.Services.GetRequiredService<KazeClient>();

        // Returns after the exit request (or Ctrl+C / SIGTERM), or when the sidecar was lost,
        // once the host has stopped: in-flight requests answered, channel closed.
        await host.WaitForShutdownAsync();
        if (client.IsExitRequested || !client.Completion.IsCompleted || client.Completion.Result == ChannelStatus.Closed)
        {
            return 0;
        }

        Console.Error.WriteLine($"Kaze.Echo: the sidecar was lost ({client.Completion.Result})");
        return 1;
    }

    private static async Task<int> CallAsync(CallOptions options)
    {
        // The loop below never blocks after an await, so it may continue on the client's reader
        // thread: one thread hop less per call (see KazeClientOptions.CompleteCallsInline).
        await using KazeClient client = KazeClient.ConnectFromEnvironment(new KazeClientOptions { CompleteCallsInline = true });
        client.AddHandler(EchoBodyType, Echo);
        client.Start();

        var latencies = new long[options.Count];
        var failures = new ConcurrentDictionary<RetCode, int>();
        int mismatches = 0;
        int next = -1;
        int done = 0;
        var stopwatch = Stopwatch.StartNew();

        Task[] workers = Enumerable.Range(0, options.Pipeline).Select(_ => Task.Run(async () =>
        {
            byte[] body = new byte[options.Size];
            Random.Shared.NextBytes(body);
            while (!client.IsExitRequested)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= options.Count)
                {
                    break;
                }

                // Each call's body is unique where there is room, so a crossed response cannot pass.
                BitConverter.TryWriteBytes(body, i);
                long start = Stopwatch.GetTimestamp();
                KazeResponse response = await client.CallAsync(options.Destination, EchoBodyType, body, options.Timeout);
                latencies[i] = Stopwatch.GetTimestamp() - start;
                if (!response.IsOk)
                {
                    failures.AddOrUpdate(response.Code, 1, static (_, n) => n + 1);
                    latencies[i] = -1;
                }
                else if (!response.Body.Span.SequenceEqual(body))
                {
                    Interlocked.Increment(ref mismatches);
                    latencies[i] = -1;
                }

                Interlocked.Increment(ref done);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        TimeSpan elapsed = stopwatch.Elapsed;

        long[] ok = [.. latencies.Take(done).Where(t => t >= 0)];
        Array.Sort(ok);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{done} calls to {options.Destination}, {options.Pipeline} in flight, {options.Size}-byte bodies: {ok.Length} ok in {elapsed.TotalSeconds:0.000} s"));
        if (ok.Length > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"latency µs: p50 {Micros(Percentile(ok, 0.50)):0.0}  p99 {Micros(Percentile(ok, 0.99)):0.0}  max {Micros(ok[^1]):0.0}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput: {done / elapsed.TotalSeconds:0} calls/s"));
        }

        int failedCount = done - ok.Length;
        if (failedCount == 0 && done == options.Count)
        {
            return 0;
        }

        var reasons = failures.OrderBy(f => f.Key).Select(f => $"{f.Value} {f.Key}").ToList();
        if (mismatches > 0)
        {
            reasons.Add($"{mismatches} with a wrong body");
        }

        if (done < options.Count)
        {
            reasons.Add($"{options.Count - done} not made: the sidecar asked this host to exit");
        }

        Console.Error.WriteLine($"Kaze.Echo: {failedCount + options.Count - done} of {options.Count} calls failed: {string.Join(", ", reasons)}");
        return 1;
    }

    private static long Percentile(long[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    private static int Fail(string? error)
    {
        if (error is not null)
        {
            Console.Error.WriteLine("Kaze.Echo: " + error);
        }

        Console.Error.WriteLine(Usage);
        return 2;
    }

    private sealed record CallOptions(Ident Destination, int Count, int Pipeline, int Size, TimeSpan Timeout)
    {
        public static bool TryParse(ReadOnlySpan<string> args, [NotNullWhen(true)] out CallOptions? options, [NotNullWhen(false)] out string? error)
        {
            options = null;
            if (args.Length < 2)
            {
                return Invalid("call needs <ident> and <count>", out error);
            }

            if (!Ident.TryParse(args[0], out Ident destination, out string? identError))
            {
                return Invalid(identError, out error);
            }

            if (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
            {
                return Invalid($"<count> is '{args[1]}': expected a whole number of at least 1", out error);
            }

            int pipeline = 1;
            int size = 64;
            int timeout = 5000;
            for (int i = 2; i < args.Length; i += 2)
            {
                if (i + 1 >= args.Length)
                {
                    return Invalid($"{args[i]} needs a value", out error);
                }

                ref int target = ref pipeline;
                int min = 1;
                switch (args[i])
                {
                    case "--pipeline":
                        target = ref pipeline;
                        break;
                    case "--size":
                        target = ref size;
                        min = 0;
                        break;
                    case "--timeout":
                        target = ref timeout;
                        break;
                    default:
                        return Invalid($"unknown option {args[i]}", out error);
                }

                if (!int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out target) || target < min)
                {
                    return Invalid($"{args[i]} is '{args[i + 1]}': expected a whole number of at least {min}", out error);
                }
            }

            options = new CallOptions(destination, count, Math.Min(pipeline, count), size, TimeSpan.FromMilliseconds(timeout));
            error = null;
            return true;
        }

        private static bool Invalid(string message, out string error)
        {
            error = message;
            return false;
        }
    }
}
