using Xunit;
using Kaze.Core.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Kaze.Core.Tests.Diagnostics;

public sealed class LogRateLimiterTests
{
    [Fact]
    public void TryAcquire_BurstOverLimit_AllowsLimitThenCountsTheRest()
    {
        var time = new FakeTimeProvider();
        var limiter = new LogRateLimiter(linesPerWindow: 3, time: time);

        int allowed = 0;
        for (int i = 0; i < 100_000; i++)
        {
            if (limiter.TryAcquire(out long suppressed))
            {
                allowed++;
                Assert.Equal(0, suppressed);
            }
        }

        Assert.Equal(3, allowed);
        Assert.Equal(99_997, limiter.Suppressed);
    }

    [Fact]
    public void TryAcquire_NextWindow_ReportsSuppressedOnceThenZero()
    {
        var time = new FakeTimeProvider();
        var limiter = new LogRateLimiter(linesPerWindow: 2, time: time);
        for (int i = 0; i < 10; i++)
        {
            limiter.TryAcquire(out _);
        }

        time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(limiter.TryAcquire(out long first));
        Assert.Equal(8, first);
        Assert.True(limiter.TryAcquire(out long second));
        Assert.Equal(0, second);
        Assert.False(limiter.TryAcquire(out _));
    }

    [Fact]
    public void TryAcquire_WithinWindow_StaysSilentUntilWindowEnds()
    {
        var time = new FakeTimeProvider();
        var limiter = new LogRateLimiter(linesPerWindow: 1, time: time);
        Assert.True(limiter.TryAcquire(out _));

        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(limiter.TryAcquire(out _));

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(limiter.TryAcquire(out long suppressed));
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void TakeSuppressed_ReturnsCountAndResets()
    {
        var time = new FakeTimeProvider();
        var limiter = new LogRateLimiter(linesPerWindow: 1, time: time);
        for (int i = 0; i < 5; i++)
        {
            limiter.TryAcquire(out _);
        }

        Assert.Equal(4, limiter.TakeSuppressed());
        Assert.Equal(0, limiter.TakeSuppressed());
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(limiter.TryAcquire(out long suppressed));
        Assert.Equal(0, suppressed);
    }

    [Fact]
    public void TryAcquire_ManyThreads_CountsEveryEvent()
    {
        var limiter = new LogRateLimiter(linesPerWindow: 5, window: TimeSpan.FromHours(1));
        long allowed = 0;
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                if (limiter.TryAcquire(out _))
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        });

        Assert.Equal(5, allowed);
        Assert.Equal(40_000 - 5, limiter.Suppressed);
    }

    [Fact]
    public void Constructor_BadArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogRateLimiter(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogRateLimiter(1, TimeSpan.Zero));
    }
}
