namespace Kaze.Core.Diagnostics;

/// <summary>
/// Decides which events of one kind (one reason: "bad frame", "padding past the tail") get a log
/// line, so that a peer or host sending bad input cannot fill a disk: at most
/// <see cref="LinesPerWindow"/> lines per window, then silence; the first line after a silent
/// stretch says how many events were not logged. Counting the events themselves stays the
/// caller's job (every event counts, logged or not).
/// </summary>
/// <remarks>
/// Use one instance per reason. Thread-safe; every method takes a lock, which is fine on the paths
/// it is meant for (bad input), never on a hot path. A caller that wants the count of the last
/// silent stretch reported even when no further event comes calls <see cref="TakeSuppressed"/>
/// from a timer or at shutdown.
/// </remarks>
public sealed class LogRateLimiter
{
    /// <summary>The default number of lines per window: a few per second.</summary>
    public const int DefaultLinesPerWindow = 5;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _windowTicks;

    // All under _lock. The window's start (TimeProvider timestamp), lines logged in it, and events not
    // logged since the last line that was.
    private long _windowStart;
    private int _linesInWindow;
    private long _suppressed;
    private bool _started;

    /// <summary>Creates a limiter of <paramref name="linesPerWindow"/> lines per <paramref name="window"/> (default: 5 per second).</summary>
    public LogRateLimiter(int linesPerWindow = DefaultLinesPerWindow, TimeSpan? window = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(linesPerWindow);
        TimeSpan span = window ?? TimeSpan.FromSeconds(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(span, TimeSpan.Zero, nameof(window));
        LinesPerWindow = linesPerWindow;
        _time = time ?? TimeProvider.System;
        _windowTicks = (long)(span.TotalSeconds * _time.TimestampFrequency);
        if (_windowTicks <= 0)
        {
            _windowTicks = 1;
        }
    }

    /// <summary>Lines allowed per window.</summary>
    public int LinesPerWindow { get; }

    /// <summary>Events not logged since the last line that was (or since <see cref="TakeSuppressed"/>).</summary>
    public long Suppressed
    {
        get
        {
            lock (_lock)
            {
                return _suppressed;
            }
        }
    }

    /// <summary>
    /// Records one event. True if it may be logged; <paramref name="suppressedBefore"/> is then the
    /// number of events before it that were not (say so in the line when it is above zero), and the
    /// count starts again. False: do not log it; it is counted as suppressed.
    /// </summary>
    public bool TryAcquire(out long suppressedBefore)
    {
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_started || now - _windowStart >= _windowTicks)
            {
                _started = true;
                _windowStart = now;
                _linesInWindow = 0;
            }

            if (_linesInWindow < LinesPerWindow)
            {
                _linesInWindow++;
                suppressedBefore = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressedBefore = 0;
            return false;
        }
    }

    /// <summary>
    /// Returns the events not logged so far and starts the count again: a timer or a shutdown path
    /// logs "N more like this were not logged" when it is above zero.
    /// </summary>
    public long TakeSuppressed()
    {
        lock (_lock)
        {
            long suppressed = _suppressed;
            _suppressed = 0;
            return suppressed;
        }
    }
}
