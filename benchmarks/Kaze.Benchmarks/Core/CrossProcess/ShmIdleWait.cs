using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Kaze.Core;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// CPU burnt by a side blocked on an idle channel: the peer (host) calls
/// <see cref="RingReader.WaitToRead"/> on an empty ring; once its spin has given up, this process
/// measures the peer's CPU time over a window, then wakes it with a message carrying a
/// timestamp (Stopwatch is CLOCK_MONOTONIC, the same clock in both processes), which gives the
/// cost of a futex wake as well.
/// </summary>
/// <remarks>
/// The peer first waits <see cref="PeerWarmup"/> with a timeout: a sleeping waiter checks the
/// peer's liveness every 100 ms, so the methods of that path reach the tiered JIT's call count
/// (30) after 3 s, and again 3 s later for the final tier (TieredPGO), and are recompiled in the
/// background each time. That one-off cost of a young process (about 1 % of a core for its first
/// 7 s of waiting) is left out of the window, which measures the steady state of a long idle wait.
/// </remarks>
internal static class ShmIdleWait
{
    public const string PeerMode = "shm-idle-wait";

    // Longer than the largest spin budget (300 µs) by far, and past any tiered-JIT work from startup.
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);

    /// <summary>The peer's first, untimed wait: past the tier-up of the liveness path (30 checks at 10 per second to the instrumented tier, 30 more to tier 1; measured here: done by about 7 s).</summary>
    public static readonly TimeSpan PeerWarmup = TimeSpan.FromSeconds(8);

    /// <param name="CpuPercent">The whole waiting process, from utime + stime (Process.TotalProcessorTime; 10 ms ticks, so ±0.2 % over 5 s).</param>
    /// <param name="WaitingThreadCpuPercent">The thread blocked in WaitToRead alone, from its schedstat (ns).</param>
    public sealed record Result(double CpuPercent, double WaitingThreadCpuPercent, double WakeLatencyUs, long BlockedWaits);

    public static Result Run(TimeSpan window, CancellationToken ct)
    {
        string name = HarnessNames.NextChannel("idle");
        using ShmChannel channel = ShmChannel.Create(name);
        using PeerProcess peer = PeerProcess.Start(PeerMode, name);
        peer.Expect("waiting", HarnessTimeouts.PeerStart + PeerWarmup, ct);
        Sleep(Settle, ct);

        ProcessCpu.Sample before = ProcessCpu.Read(peer.Id);
        long from = Stopwatch.GetTimestamp();
        Sleep(window, ct);
        ProcessCpu.Sample after = ProcessCpu.Read(peer.Id);
        double seconds = (Stopwatch.GetTimestamp() - from) / (double)Stopwatch.Frequency;

        ChannelStatus status = channel.Writer.TryClaim(sizeof(long), out Span<byte> payload);
        if (status != ChannelStatus.Ok)
        {
            throw new HarnessException($"idle wait: claim for the wake-up message got {status}");
        }

        BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
        channel.Writer.Commit();
        string[] woke = peer.Expect("woke", HarnessTimeouts.PeerFinish, ct).Split(' ');
        peer.WaitForExit(HarnessTimeouts.PeerFinish, "idle wait");

        // utime + stime, not a sum over /proc/PID/task: that loses the time of threads that exit
        // in the window (the runtime's tiering worker does, once idle).
        double percent = (after.Process - before.Process).TotalSeconds / seconds * 100;
        double thread = before.WaitingThreadNs >= 0 && after.WaitingThreadNs >= 0
            ? (after.WaitingThreadNs - before.WaitingThreadNs) / 1e9 / seconds * 100
            : double.NaN;
        double wakeUs = long.Parse(woke[0], CultureInfo.InvariantCulture) * 1_000_000.0 / Stopwatch.Frequency;
        return new Result(percent, thread, wakeUs, long.Parse(woke[1], CultureInfo.InvariantCulture));
    }

    /// <summary>The peer: one blocking wait on the empty ring; prints <c>woke WAKE_TICKS BLOCKED_WAITS</c>.</summary>
    public static int Wait(string name)
    {
        using ShmChannel channel = ShmChannel.Open(name);
        RingReader reader = channel.Reader;
        ChannelStatus status = reader.WaitToRead(PeerWarmup);
        if (status != ChannelStatus.TimedOut)
        {
            Console.Error.WriteLine($"the warm-up wait on an idle channel ended with {status}, not TimedOut");
            return 1;
        }

        // The measured wait runs on this, the main thread, whose task id is the pid.
        Console.WriteLine("waiting");
        status = reader.WaitToRead(TimeSpan.FromSeconds(60));
        long now = Stopwatch.GetTimestamp();
        if (status == ChannelStatus.Ok)
        {
            status = reader.TryRead(out ReadOnlySpan<byte> record);
            if (status == ChannelStatus.Ok && record.Length == sizeof(long))
            {
                long sent = BinaryPrimitives.ReadInt64LittleEndian(record);
                reader.Release();
                Console.WriteLine($"woke {now - sent} {reader.BlockedWaits}");
                return 0;
            }
        }

        Console.Error.WriteLine($"idle wait ended with {status}");
        return 1;
    }

    private static void Sleep(TimeSpan span, CancellationToken ct)
    {
        if (ct.WaitHandle.WaitOne(span))
        {
            ct.ThrowIfCancellationRequested();
        }
    }
}

/// <summary>CPU time of another process, and of its main thread.</summary>
internal static class ProcessCpu
{
    /// <param name="Process">Process.TotalProcessorTime: utime + stime of every thread, exited ones included (10 ms ticks).</param>
    /// <param name="WaitingThreadNs">On-CPU nanoseconds of the main thread (/proc/PID/task/PID/schedstat), -1 if unreadable.</param>
    public readonly record struct Sample(TimeSpan Process, long WaitingThreadNs);

    public static Sample Read(int pid)
    {
        long main;
        try
        {
            string self = pid.ToString(CultureInfo.InvariantCulture);
            string text = File.ReadAllText($"/proc/{self}/task/{self}/schedstat");
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            main = long.Parse(space < 0 ? text : text[..space], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            main = -1;
        }

        using var process = System.Diagnostics.Process.GetProcessById(pid);
        return new Sample(process.TotalProcessorTime, main);
    }
}
