using System.Diagnostics;
using System.Globalization;

namespace Kaze.Core.Waiting;

/// <summary>
/// How long a waiter spins before it sleeps, learned from its own waits. Used by one thread at a
/// time (a ring end's waiter; a peer connection's reader in Kaze.Mesh). Public so that every
/// waiter of the sidecar, in whichever project, spins by the same rules and the same
/// <c>KAZE_SPIN_MAX_US</c>.
/// </summary>
/// <remarks>
/// <para>
/// The budget grows (×1.5, plus the minimum) when a spin found what it waited for and halves when
/// it did not. A wait that slept but ended within the longest spin plus one wake-up would have been
/// served by spinning: it restores the longest spin, at most <see cref="MaxFutileRestores"/> times
/// until a spin succeeds (without this, once both sides sleep, each one's wait includes the other's
/// wake-up, every spin fails, and the two stay in a sleep/wake lockstep). An idle waiter so sleeps
/// almost at once; a waiter whose messages keep coming less than the longest spin apart polls
/// through the gaps, and so keeps a core busy for as long as that lasts (politely: it yields to any
/// other runnable thread).
/// </para>
/// <para>
/// The longest spin is 300 µs: in a pipeline across two sidecars on two cores, each of six threads
/// handles a wave of messages and then waits up to a few hundred µs for the next, and the kernel
/// wake-ups, not the work, bounded the throughput. <c>KAZE_SPIN_MAX_US</c> (0–10000) in the
/// environment sets it for a process: lower trades latency and throughput for CPU. A process
/// with one CPU to run on does not spin unless that variable says so (<see cref="MaxMicroseconds"/>).
/// </para>
/// </remarks>
public struct SpinBudget
{
    /// <summary>The environment variable that sets the longest spin, in µs.</summary>
    public const string MaxSpinVariable = "KAZE_SPIN_MAX_US";

    /// <summary>The longest spin unless <see cref="MaxSpinVariable"/> says otherwise, in µs.</summary>
    public const int DefaultMaxMicroseconds = 300;

    /// <summary>The longest spin, in Stopwatch ticks.</summary>
    public static readonly long MaxTicks = Stopwatch.Frequency * MaxMicroseconds(Environment.GetEnvironmentVariable(MaxSpinVariable), Environment.ProcessorCount) / 1_000_000;

    /// <summary>The shortest spin (10 µs, or the longest if that is less).</summary>
    public static readonly long MinTicks = Math.Min(MaxTicks, Stopwatch.Frequency / 100_000);

    // A sleep's measured wait includes this thread's own wake-up: one kernel wake, with margin.
    private static readonly long WakeAllowanceTicks = Stopwatch.Frequency / 20_000;   // 50 µs
    private const int MaxFutileRestores = 3;

    private long _ticks;
    private int _futileRestores;

    /// <summary>
    /// The longest spin <paramref name="setting"/> (µs, 0–10000) asks for; if it is missing or not a
    /// number in that range, the default, or none at all when the process has one CPU to run on
    /// (<paramref name="processors"/>, <see cref="Environment.ProcessorCount"/>: the CPUs it may use,
    /// its CPU quota rounded up). There the thread a waiter waits for can only run while the waiter
    /// does not: a spin, even one that yields, only delays it. Measured with the whole mesh
    /// benchmark on one CPU (taskset -c 0): call p50 102 µs spinning, 70 µs sleeping at once;
    /// pipelined 154k against 186k calls/s.
    /// </summary>
    public static long MaxMicroseconds(string? setting, int processors) =>
        TryParseSetting(setting, out int us) ? us
        : processors <= 1 ? 0
        : DefaultMaxMicroseconds;

    /// <summary>True if <paramref name="setting"/> is a number of µs from 0 to 10000 (the sidecar warns of any other).</summary>
    public static bool IsValidSetting(string? setting) => TryParseSetting(setting, out _);

    private static bool TryParseSetting(string? setting, out int us) =>
        int.TryParse(setting, NumberStyles.None, CultureInfo.InvariantCulture, out us) && us <= 10_000;

    /// <summary>A wait has to spin: the spin to make, in Stopwatch ticks.</summary>
    public long Begin()
    {
        if (_ticks == 0)
        {
            _ticks = MaxTicks / 2;
        }

        return _ticks;
    }

    /// <summary>The spin of <paramref name="spun"/> ticks found what it waited for.</summary>
    public void Succeeded(long spun)
    {
        _ticks = Math.Min(MaxTicks, spun + (spun >> 1) + MinTicks);
        _futileRestores = 0;
    }

    /// <summary>The spin of <paramref name="spun"/> ticks ran out.</summary>
    public void Failed(long spun) => _ticks = Math.Max(MinTicks, spun >> 1);

    /// <summary>The wait that began at <paramref name="start"/> (before its spin) slept, and ended at <paramref name="now"/>.</summary>
    public void Slept(long start, long now)
    {
        if (now - start < MaxTicks + WakeAllowanceTicks && _futileRestores < MaxFutileRestores)
        {
            _futileRestores++;
            _ticks = MaxTicks;
        }
    }
}
