namespace Kaze.Sidecar.Tests.RateLimiting;

/// <summary>
/// A <see cref="TimeProvider"/> that only moves when told to: timestamps, and timers (so
/// <c>Task.Delay(delay, clock)</c>) fire inside <see cref="Advance"/>, on the test's thread.
/// </summary>
internal sealed class ManualClock : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<Timer> _timers = [];
    // Nanoseconds; starts far from 0 so "never used" and "now" differ.
    private long _now = 1_000_000_000_000;

    public override long TimestampFrequency => 1_000_000_000;

    public override long GetTimestamp() => Volatile.Read(ref _now);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddTicks(GetTimestamp() / 100);

    /// <summary>Timers waiting to fire (e.g. packets held in wait mode).</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(t => t.DueAt is not null);
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time on and fires every timer that is due, in due order.</summary>
    public void Advance(TimeSpan by)
    {
        long target;
        lock (_gate)
        {
            target = _now + Ticks(by);
        }

        while (true)
        {
            Timer? due;
            lock (_gate)
            {
                due = _timers.Where(t => t.DueAt <= target).MinBy(t => t.DueAt);
                if (due is null)
                {
                    Volatile.Write(ref _now, target);
                    return;
                }

                Volatile.Write(ref _now, Math.Max(_now, due.DueAt!.Value));
                due.DueAt = due.Period > 0 ? due.DueAt + due.Period : null;
            }

            due.Fire();
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * 1_000_000_000);

    private sealed class Timer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public long? DueAt { get; set; }

        public long Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                if (!clock._timers.Contains(this))
                {
                    clock._timers.Add(this);
                }

                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + Ticks(dueTime);
                Period = period == Timeout.InfiniteTimeSpan ? 0 : Ticks(period);
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (clock._gate)
            {
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
