using System.Diagnostics;

namespace Kaze.Core.Waiting;

/// <summary>
/// When a spinning waiter that found its core shared should move to another CPU (see
/// <see cref="RingWaiter"/>): at most every 10 ms, and less often while moves do not help.
/// </summary>
/// <remarks>
/// A move helps when two polling threads landed on one core while another idles. With more
/// polling threads than cores (a call across two sidecars on two cores polls in four threads)
/// every core is shared, and moving only costs migrations: the core is shared again at once. So
/// a shared core seen within 1 ms of a move marks that move as failed, and the least time
/// between moves doubles after each failed one, up to 1 s; it is back to 10 ms after a move
/// that was not followed by a shared core so soon.
/// </remarks>
internal struct MovePacer
{
    /// <summary>The least time between moves while they help: 10 ms, in Stopwatch ticks.</summary>
    public static readonly long MinIntervalTicks = Stopwatch.Frequency / 100;

    /// <summary>The most it grows to: 1 s.</summary>
    public static readonly long MaxIntervalTicks = Stopwatch.Frequency;

    /// <summary>A shared core seen this soon after a move (1 ms) means the move found no free core.</summary>
    public static readonly long CheckTicks = Stopwatch.Frequency / 1000;

    private bool _moved;
    private long _lastMove;
    private long _interval;
    private bool _failed;

    /// <summary>The least time between moves now, in Stopwatch ticks.</summary>
    public readonly long IntervalTicks => _interval == 0 ? MinIntervalTicks : _interval;

    /// <summary>The waiter found its core shared at <paramref name="now"/>: true if it should move now (the move is then counted).</summary>
    public bool SharedAt(long now)
    {
        if (_moved)
        {
            long since = now - _lastMove;
            if (since < CheckTicks)
            {
                _failed = true;
                return false;
            }

            if (since <= IntervalTicks)
            {
                return false;
            }

            _interval = _failed ? Math.Min(IntervalTicks * 2, MaxIntervalTicks) : MinIntervalTicks;
        }

        _moved = true;
        _failed = false;
        _lastMove = now;
        return true;
    }
}
