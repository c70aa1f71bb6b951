using System.Diagnostics;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// Polls a condition that has no event to wait on (a host's counters, a process gone), bounded, its
/// failure naming what was awaited and showing what was last seen. Polling a condition, not sleeping
/// for a while and hoping.
/// </summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan timeout, Func<T, string>? describe = null)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            T seen = await probe();
            if (done(seen))
            {
                return seen;
            }

            if (Stopwatch.GetElapsedTime(start) >= timeout)
            {
                throw new XunitException($"Timed out after {timeout.TotalSeconds:0.###} s waiting for {what}. Last seen: {(describe is null ? seen?.ToString() : describe(seen))}");
            }

            await Task.Delay(Interval);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan timeout) =>
        UntilAsync(() => Task.FromResult(condition()), static done => done, what, timeout);
}
