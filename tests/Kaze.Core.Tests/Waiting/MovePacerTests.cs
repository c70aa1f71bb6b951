using Kaze.Core.Waiting;
using Xunit;

namespace Kaze.Core.Tests.Waiting;

/// <summary>A waiter on a shared core moves at most every 10 ms, and backs off while moves find no free core.</summary>
public sealed class MovePacerTests
{
    private static readonly long Ms = MovePacer.CheckTicks;

    [Fact]
    public void SharedAt_FirstTime_Moves()
    {
        var pacer = new MovePacer();

        Assert.True(pacer.SharedAt(1_000 * Ms));
        Assert.Equal(MovePacer.MinIntervalTicks, pacer.IntervalTicks);
    }

    [Fact]
    public void SharedAt_WithinTheInterval_DoesNotMove()
    {
        var pacer = new MovePacer();
        long t = 1_000 * Ms;
        Assert.True(pacer.SharedAt(t));

        Assert.False(pacer.SharedAt(t + 5 * Ms));
        Assert.True(pacer.SharedAt(t + 11 * Ms));
    }

    [Fact]
    public void SharedAt_SharedAgainRightAfterAMove_DoublesTheInterval()
    {
        var pacer = new MovePacer();
        long t = 1_000 * Ms;
        Assert.True(pacer.SharedAt(t));
        Assert.False(pacer.SharedAt(t + Ms / 2)); // the move found no free core

        Assert.True(pacer.SharedAt(t + 11 * Ms));
        Assert.Equal(2 * MovePacer.MinIntervalTicks, pacer.IntervalTicks);
        Assert.False(pacer.SharedAt(t + 11 * Ms + Ms / 2));
        Assert.False(pacer.SharedAt(t + 25 * Ms));
        Assert.True(pacer.SharedAt(t + 32 * Ms));
        Assert.Equal(4 * MovePacer.MinIntervalTicks, pacer.IntervalTicks);
    }

    [Fact]
    public void SharedAt_MovesKeepFailing_IntervalStopsAtOneSecond()
    {
        var pacer = new MovePacer();
        long t = 1_000 * Ms;
        for (int i = 0; i < 20; i++)
        {
            Assert.True(pacer.SharedAt(t));
            Assert.False(pacer.SharedAt(t + Ms / 2));
            t += pacer.IntervalTicks + 1;
        }

        Assert.True(pacer.SharedAt(t));
        Assert.Equal(MovePacer.MaxIntervalTicks, pacer.IntervalTicks);
    }

    [Fact]
    public void SharedAt_AMoveThatHelped_IntervalBackToTenMs()
    {
        var pacer = new MovePacer();
        long t = 1_000 * Ms;
        Assert.True(pacer.SharedAt(t));
        Assert.False(pacer.SharedAt(t + Ms / 2));
        t += 11 * Ms;
        Assert.True(pacer.SharedAt(t));
        Assert.Equal(2 * MovePacer.MinIntervalTicks, pacer.IntervalTicks);

        // Not shared again until long after this move: it helped.
        t += 500 * Ms;
        Assert.True(pacer.SharedAt(t));
        Assert.Equal(MovePacer.MinIntervalTicks, pacer.IntervalTicks);
    }
}
