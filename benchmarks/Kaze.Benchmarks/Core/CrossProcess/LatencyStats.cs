using System.Diagnostics;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>Percentiles of round-trip times, from a sorted array of Stopwatch ticks (nearest rank).</summary>
internal sealed record LatencyStats(int Count, double P50Us, double P99Us, double P999Us, double MaxUs, double MeanUs)
{
    public static LatencyStats FromTicks(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            throw new ArgumentException("no samples", nameof(ticks));
        }

        Array.Sort(ticks);
        double sum = 0;
        foreach (long t in ticks)
        {
            sum += t;
        }

        return new LatencyStats(
            ticks.Length,
            ToUs(Percentile(ticks, 0.50)),
            ToUs(Percentile(ticks, 0.99)),
            ToUs(Percentile(ticks, 0.999)),
            ToUs(ticks[^1]),
            ToUs(sum / ticks.Length));
    }

    /// <summary>The smallest sample with at least <paramref name="q"/> of all samples at or below it.</summary>
    private static long Percentile(long[] sorted, double q)
    {
        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static double ToUs(double ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
