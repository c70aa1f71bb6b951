using System.Diagnostics;
using Xunit.Sdk;

namespace Kaze.TestSupport;

/// <summary>
/// Polls for a condition that has no event to wait on (a counter, a peer's state, a process gone,
/// a host's answers): bounded, its failure naming what was awaited and showing what was last seen.
/// Polling a condition, not sleeping for a while and hoping: the delay between polls is only a
/// poll interval.
/// </summary>
public static class Eventually
{
    /// <summary>Between two checks of a cheap condition (a field, a file, a pid).</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Between two probes that cost a round trip (a request to a host, a query to a server).</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checking every <paramref name="every"/>
    /// (<see cref="CheckInterval"/> if null); fails after <paramref name="timeout"/>
    /// (<see cref="Deadline.Default"/> if null), naming <paramref name="what"/> and adding
    /// <paramref name="details"/>, if given, on a line of its own.
    /// </summary>
    public static async Task True(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? details = null, TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        await PollAsync(
            () => Task.FromResult(condition()),
            static done => done,
            what,
            timeout ?? Deadline.Default,
            every ?? CheckInterval,
            _ => details is null ? "" : Environment.NewLine + details());
    }

    /// <summary>
    /// Calls <paramref name="probe"/> every <paramref name="every"/> (<see cref="ProbeInterval"/> if
    /// null) until <paramref name="done"/> accepts what it returned, and returns that; fails after
    /// <paramref name="timeout"/> (<see cref="Deadline.Default"/> if null), naming
    /// <paramref name="what"/> and showing the last answer (through <paramref name="describe"/> if given).
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null, Func<T, string>? describe = null, TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        return await PollAsync(
            probe,
            done,
            what,
            timeout ?? Deadline.Default,
            every ?? ProbeInterval,
            seen => " Last seen: " + (describe is null ? seen?.ToString() : describe(seen)));
    }

    /// <summary>
    /// Blocks the calling thread until <paramref name="condition"/> holds, spinning and then
    /// yielding between checks (no sleep of more than 1 ms, no async): for tests that time what
    /// happens right after the condition holds, or that must not leave their thread. Fails after
    /// <paramref name="timeout"/> (<see cref="Deadline.Default"/> if null), naming <paramref name="what"/>.
    /// </summary>
    public static void SpinUntil(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        TimeSpan limit = timeout ?? Deadline.Default;
        long start = Stopwatch.GetTimestamp();
        var spin = default(SpinWait);
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > limit)
            {
                throw Deadline.TimedOut(limit, what);
            }

            spin.SpinOnce(sleep1Threshold: 30);
        }
    }

    private static async Task<T> PollAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan limit, TimeSpan every, Func<T, string> describe)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            T seen = await probe();
            if (done(seen))
            {
                return seen;
            }

            if (Stopwatch.GetElapsedTime(start) >= limit)
            {
                throw Deadline.TimedOut(limit, what, () => describe(seen), separator: "");
            }

            await Task.Delay(every);
        }
    }
}
