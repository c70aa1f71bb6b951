using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kaze.Core;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// <c>channel</c>: the cross-process figures of the shared-memory channel and their socket
/// baselines, all measured in one run between this process and a re-launched copy of itself.
/// </summary>
internal static class ChannelHarness
{
    public const string Command = "channel";

    private const int FloodSmall = 64;
    private const int FloodLarge = 1024;
    private const int PingSize = 64;
    private static readonly TimeSpan FloodWarmup = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan RttMinWarmup = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(5);
    // Slow enough that a second tells it, and it only puts the figure in context.
    private static readonly TimeSpan UnbatchedDuration = TimeSpan.FromSeconds(1);
    private const int RttWarmupRoundTrips = 20_000;
    private const int SocketWarmupRoundTrips = 2_000;

    public static int Run(string[] args)
    {
        HarnessOptions? options = HarnessOptions.Parse(args, out string error);
        if (options is null)
        {
            Console.Error.WriteLine(error);
            Console.Error.WriteLine(HarnessOptions.Usage);
            return 2;
        }

        using var cts = new CancellationTokenSource();
        // SIGINT, SIGTERM, SIGHUP: stop at the next check so the peer is killed and the channel
        // file removed on the way out, instead of dying with them left behind.
        Action<PosixSignalContext> onSignal = context =>
        {
            context.Cancel = true;
            cts.Cancel();
        };
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, onSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, onSignal);
        try
        {
            var report = new HarnessReport(MachineInfo.Describe());
            long start = Stopwatch.GetTimestamp();
            Measure(options, report, cts.Token);
            report.Add("run_seconds", Stopwatch.GetElapsedTime(start).TotalSeconds);
            report.PrintTable(Console.Out);
            if (options.JsonPath is not null)
            {
                report.WriteJson(options.JsonPath);
                Console.WriteLine($"figures written to {options.JsonPath}");
            }

            return 0;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("channel benchmark cancelled");
            return 130;
        }
        catch (Exception e) when (e is HarnessException or ChannelException or SocketException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"channel benchmark failed: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            // Caught rather than left unhandled: an unhandled exception may end the process
            // without unwinding, and so without killing the peer or removing the channel file.
            Console.Error.WriteLine($"channel benchmark failed: {e}");
            return 1;
        }
    }

    private static void Measure(HarnessOptions options, HarnessReport report, CancellationToken ct)
    {
        IReadOnlySet<string> only = options.Scenarios;
        if (options.Pin)
        {
            // The measuring loops all run on this (main) thread; peers pin their main thread.
            if (Environment.ProcessorCount < 2)
            {
                throw new HarnessException("--pin needs two CPUs");
            }

            CpuPinning.PinCurrentThread(0);
            PeerProcess.HarnessCpu = 0;
            PeerProcess.PeerCpu = 1;
        }

        report.Add("pinned", options.Pin ? 1 : 0);
        report.Add("flood_batch", options.Batch);
        report.Add("flood_seconds", options.FloodDuration.TotalSeconds);
        report.Add("ring_capacity_bytes", options.Channel.SidecarToHostCapacity);

        if (only.Contains("flood64"))
        {
            Progress($"ring flood, {FloodSmall} B messages, {options.FloodDuration.TotalSeconds:0.#} s");
            ShmFlood.Result r = ShmFlood.Run(FloodSmall, options.Batch, options.Channel, FloodWarmup, options.FloodDuration, ct);
            report.Add("flood_64_msgs_per_s", r.MessagesPerSecond);
            report.Add("flood_64_bytes_per_s", r.MessagesPerSecond * FloodSmall);
            report.Add("flood_64_messages_verified", r.MessagesVerified);
            report.Add("flood_64_writer_blocked_waits", r.WriterBlockedWaits);
            report.Add("flood_64_reader_blocked_waits", r.ReaderBlockedWaits);
        }

        if (only.Contains("uds-flood"))
        {
            Progress($"UDS flood, {FloodSmall} B messages, {options.FloodDuration.TotalSeconds:0.#} s");
            SocketBaselines.FloodResult r = SocketBaselines.UdsFlood(FloodSmall, SocketBaselines.BatchedFramesPerSend, FloodWarmup, options.FloodDuration, ct);
            report.Add("uds_flood_64_msgs_per_s", r.MessagesPerSecond);
            report.Add("uds_flood_64_messages_verified", r.MessagesVerified);
        }

        if (only.Contains("uds-flood-unbatched"))
        {
            Progress($"UDS flood, {FloodSmall} B messages, one send() per message, {UnbatchedDuration.TotalSeconds:0} s");
            SocketBaselines.FloodResult r = SocketBaselines.UdsFlood(FloodSmall, 1, FloodWarmup, UnbatchedDuration, ct);
            report.Add("uds_flood_64_unbatched_msgs_per_s", r.MessagesPerSecond);
        }

        if (only.Contains("flood1024"))
        {
            Progress($"ring flood, {FloodLarge} B messages, {options.FloodDuration.TotalSeconds:0.#} s");
            ShmFlood.Result r = ShmFlood.Run(FloodLarge, options.Batch, options.Channel, FloodWarmup, options.FloodDuration, ct);
            report.Add("flood_1024_msgs_per_s", r.MessagesPerSecond);
            report.Add("flood_1024_bytes_per_s", r.MessagesPerSecond * FloodLarge);
            report.Add("flood_1024_messages_verified", r.MessagesVerified);
            report.Add("flood_1024_writer_blocked_waits", r.WriterBlockedWaits);
            report.Add("flood_1024_reader_blocked_waits", r.ReaderBlockedWaits);
        }

        if (only.Contains("rtt"))
        {
            Progress($"ring round trips, {PingSize} B, {options.RoundTrips} after warm-up");
            ShmPingPong.Result r = ShmPingPong.Run(PingSize, options.Channel, options.RoundTrips, RttWarmupRoundTrips, RttMinWarmup, ct);
            report.AddLatency("rtt", r.Latency);
            report.Add("rtt_blocked_waits", r.BlockedWaits);
            report.Add("rtt_peer_blocked_waits", r.PeerBlockedWaits);
        }

        if (only.Contains("spin-floor"))
        {
            Progress($"spin floor: raw shared-memory ping-pong, {options.SocketRoundTrips}");
            report.AddLatency("spin_floor_rtt", SpinFloor.Run(options.SocketRoundTrips, RttWarmupRoundTrips, ct));
        }

        if (only.Contains("uds-rtt"))
        {
            Progress($"UDS round trips, {PingSize} B, {options.SocketRoundTrips}");
            report.AddLatency("uds_rtt", SocketBaselines.UdsRoundTrips(PingSize, options.SocketRoundTrips, SocketWarmupRoundTrips, ct));
        }

        if (only.Contains("tcp-rtt"))
        {
            Progress($"TCP loopback round trips, {PingSize} B, {options.SocketRoundTrips}");
            report.AddLatency("tcp_rtt", SocketBaselines.TcpRoundTrips(PingSize, options.SocketRoundTrips, SocketWarmupRoundTrips, ct));
        }

        if (only.Contains("idle"))
        {
            Progress($"idle wait, {ShmIdleWait.PeerWarmup.TotalSeconds:0} s warm-up then {IdleWindow.TotalSeconds:0} s measured");
            ShmIdleWait.Result r = ShmIdleWait.Run(IdleWindow, ct);
            report.Add("idle_wait_cpu_percent", r.CpuPercent);
            report.Add("idle_wait_thread_cpu_percent", r.WaitingThreadCpuPercent);
            report.Add("idle_wake_latency_us", r.WakeLatencyUs);
            report.Add("idle_blocked_waits", r.BlockedWaits);
        }
    }

    private static void Progress(string step) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{DateTime.Now:HH:mm:ss}] {step}"));
}
