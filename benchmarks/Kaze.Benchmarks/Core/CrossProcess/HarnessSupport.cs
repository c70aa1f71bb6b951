using System.Diagnostics;
using System.Globalization;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>Unique names for channel files and socket paths: pid plus a counter, so runs never collide.</summary>
internal static class HarnessNames
{
    private static int s_counter;

    public static string NextChannel(string kind) =>
        string.Create(CultureInfo.InvariantCulture, $"bench-{Environment.ProcessId}-{kind}-{Interlocked.Increment(ref s_counter)}");

    public static string NextSocketPath(string kind) =>
        Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"kaze-bench-{Environment.ProcessId}-{kind}-{Interlocked.Increment(ref s_counter)}.sock"));
}

/// <summary>Limits on every wait of the harness, so a stuck peer fails the run instead of hanging it.</summary>
internal static class HarnessTimeouts
{
    /// <summary>From launching a peer to its first line (process start and JIT).</summary>
    public static readonly TimeSpan PeerStart = TimeSpan.FromSeconds(20);

    /// <summary>From the end of a measurement to the peer's result line and exit.</summary>
    public static readonly TimeSpan PeerFinish = TimeSpan.FromSeconds(20);

    /// <summary>One blocking ring or socket wait inside a measurement.</summary>
    public static readonly TimeSpan RingWait = TimeSpan.FromSeconds(10);

    /// <summary>A peer that outlives this exits on its own, whatever happened to its parent.</summary>
    public static readonly TimeSpan PeerLifetime = TimeSpan.FromSeconds(180);

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
