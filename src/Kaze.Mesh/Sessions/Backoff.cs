using Kaze.Mesh.Connections;

namespace Kaze.Mesh.Sessions;

/// <summary>The wait after the n-th failed attempt in a row: min × 2^(n-1), capped at max, each ±20 % so that peers that failed together do not retry together.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(int failures, TimeSpan min, TimeSpan max)
    {
        // 2^20 × any sane minimum is far above any sane maximum: stop doubling there.
        int doublings = Math.Clamp(failures - 1, 0, 20);
        double baseMs = Math.Min(min.TotalMilliseconds * (1L << doublings), max.TotalMilliseconds);
        double jittered = baseMs * (0.8 + (0.4 * Random.Shared.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Clamp(jittered, min.TotalMilliseconds * 0.8, max.TotalMilliseconds));
    }
}
