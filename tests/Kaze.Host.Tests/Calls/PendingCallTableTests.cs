using Kaze.Host.Calls;
using Kaze.Protocol;

namespace Kaze.Host.Tests.Calls;

/// <summary>The table of calls in flight, its one timer, and its end.</summary>
public sealed class PendingCallTableTests
{
    [Fact]
    public async Task Close_WaitingCalls_CompletedWithCodeAndTableEmpty()
    {
        using var table = new PendingCallTable();
        PendingCall call = Add(table, 1, TimeSpan.FromMinutes(1));

        table.Close(RetCode.Unreachable);
        KazeResponse response = await call.AsValueTask().Within("the closed call");

        Assert.Equal(RetCode.Unreachable, response.Code);
        Assert.True(response.IsLocal);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void TryAdd_AfterClose_RefusedAsClosed()
    {
        using var table = new PendingCallTable();
        table.Close(RetCode.Unreachable);
        PendingCall call = table.Rent();
        call.Initialize(1, Environment.TickCount64 + 1000);

        bool added = table.TryAdd(call, out bool closed);

        Assert.False(added);
        Assert.True(closed);
    }

    [Fact]
    public void TryAdd_SequenceInUse_RefusedNotClosed()
    {
        using var table = new PendingCallTable();
        Add(table, 7, TimeSpan.FromMinutes(1));
        PendingCall second = table.Rent();
        second.Initialize(7, Environment.TickCount64 + 1000);

        bool added = table.TryAdd(second, out bool closed);

        Assert.False(added);
        Assert.False(closed);
    }

    [Fact]
    public void Close_AfterDispose_DoesNotThrow()
    {
        var table = new PendingCallTable();
        Add(table, 1, TimeSpan.FromMinutes(1));
        table.Dispose();

        // The reader ends the channel after Dispose has already disposed the timer.
        table.Close(RetCode.Unreachable);

        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task Timer_LaterCallAddedFirst_EarlierDeadlineStillHonoured()
    {
        using var table = new PendingCallTable();
        PendingCall late = Add(table, 1, TimeSpan.FromSeconds(30));
        PendingCall early = Add(table, 2, TimeSpan.FromMilliseconds(30));

        KazeResponse response = await early.AsValueTask().Within("the early call to time out", TimeSpan.FromSeconds(5));

        Assert.Equal(RetCode.Timeout, response.Code);
        Assert.Equal(1, table.Count);
        Assert.Same(late, table.TryRemove(1));
    }

    [Fact]
    public void Remove_AfterResponseRemovedIt_ReturnsFalse()
    {
        using var table = new PendingCallTable();
        PendingCall call = Add(table, 3, TimeSpan.FromMinutes(1));

        Assert.Same(call, table.TryRemove(3));
        Assert.False(table.Remove(call));
        Assert.Null(table.TryRemove(3));
    }

    private static PendingCall Add(PendingCallTable table, uint sequence, TimeSpan timeout)
    {
        PendingCall call = table.Rent();
        call.Initialize(sequence, Environment.TickCount64 + (long)timeout.TotalMilliseconds);
        Assert.True(table.TryAdd(call, out _));
        return call;
    }
}
