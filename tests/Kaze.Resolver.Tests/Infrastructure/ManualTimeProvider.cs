namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>A clock that moves only when the test says so. Timers are not supported: the code under test uses none.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    // Ticks of TimeSpan (100 ns) since an arbitrary start; far from 0 so that "timestamp 0" means nothing.
    private long _ticks = TimeSpan.FromDays(1).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(Interlocked.Read(ref _ticks));

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        Interlocked.Add(ref _ticks, by.Ticks);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("ManualTimeProvider has no timers.");
}
