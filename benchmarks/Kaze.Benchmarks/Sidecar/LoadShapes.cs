using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Kaze.Benchmarks.Sidecar;

/// <summary>
/// The shapes of load the mesh harness puts on Kaze and on its gRPC baseline alike (the same code
/// drives both), and what the processes on both sides used meanwhile.
/// </summary>
internal static partial class LoadShapes
{
    /// <summary>
    /// Paced calls, one at a time: call i starts at start + i / <paramref name="rate"/> s (or at once
    /// when the previous one ended later), for <paramref name="seconds"/>. The wait until then sleeps
    /// in clock_nanosleep (absolute, CLOCK_MONOTONIC, which is Stopwatch's clock on Linux); each
    /// call is waited for synchronously on a thread of its own. Returns each call's round trip in
    /// Stopwatch ticks.
    /// </summary>
    public static long[] Paced(Func<Task> call, int rate, double seconds)
    {
        if (Stopwatch.Frequency != 1_000_000_000)
        {
            throw new InvalidOperationException($"pacing needs Stopwatch on CLOCK_MONOTONIC in ns (frequency {Stopwatch.Frequency})");
        }

        int calls = checked((int)(rate * seconds));
        long[] ticks = new long[calls];
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < calls; i++)
                {
                    long due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                    while (Stopwatch.GetTimestamp() < due)
                    {
                        SleepUntil(due);
                    }

                    long t0 = Stopwatch.GetTimestamp();
                    call().GetAwaiter().GetResult();
                    ticks[i] = Stopwatch.GetTimestamp() - t0;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "paced calls" };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(seconds * 4 + 30)))
        {
            throw new TimeoutException($"{calls} paced calls did not end within {seconds * 4 + 30} s");
        }

        return failure is null ? ticks : throw new InvalidOperationException("a paced call failed: " + failure.Message, failure);
    }

    /// <summary>Calls per second with <paramref name="depth"/> calls in flight for <paramref name="window"/> (each lane starts its next call when one ends).</summary>
    public static async Task<double> InFlightFor(Func<Task> call, int depth, TimeSpan window)
    {
        long done = 0;
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(window.TotalSeconds * Stopwatch.Frequency);
        async Task Lane()
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                await call().ConfigureAwait(false);
                Interlocked.Increment(ref done);
            }
        }

        var lanes = new Task[depth];
        for (int i = 0; i < depth; i++)
        {
            lanes[i] = Lane();
        }

        await Task.WhenAll(lanes).ConfigureAwait(false);
        return Interlocked.Read(ref done) / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>The median of <paramref name="windows"/> windows of <see cref="InFlightFor"/>.</summary>
    public static async Task<double> InFlightMedian(Func<Task> call, int depth, TimeSpan window, int windows)
    {
        var rates = new List<double>();
        for (int w = 0; w < windows; w++)
        {
            rates.Add(await InFlightFor(call, depth, window).ConfigureAwait(false));
        }

        return SidecarHarnessSupport.Median(rates);
    }

    /// <summary>The pids whose parent is <paramref name="pid"/> (from /proc/*/stat).</summary>
    public static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int candidate))
            {
                continue;
            }

            try
            {
                if (ParentOf(candidate) == pid)
                {
                    children.Add(candidate);
                }
            }
            catch (IOException)
            {
                // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                // not ours
            }
        }

        return children;
    }

    /// <summary>The parent pid of <paramref name="pid"/> (the 4th field of /proc/&lt;pid&gt;/stat).</summary>
    public static int ParentOf(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Each process's CPU time (utime + stime, all threads, exited ones too) in seconds.</summary>
    public static double[] CpuSeconds(IReadOnlyList<int> pids)
    {
        double[] seconds = new double[pids.Count];
        for (int i = 0; i < pids.Count; i++)
        {
            seconds[i] = SidecarHarnessSupport.CpuSeconds(pids[i]);
        }

        return seconds;
    }

    private static void SleepUntil(long due)
    {
        var when = new TimeSpec { Seconds = due / 1_000_000_000, Nanoseconds = due % 1_000_000_000 };
        // EINTR: the loop in Paced checks the clock again.
        _ = ClockNanosleep(ClockMonotonic, TimerAbsolute, in when, IntPtr.Zero);
    }

    private const int ClockMonotonic = 1;
    private const int TimerAbsolute = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
    private static partial int ClockNanosleep(int clock, int flags, in TimeSpec request, IntPtr remain);
}
