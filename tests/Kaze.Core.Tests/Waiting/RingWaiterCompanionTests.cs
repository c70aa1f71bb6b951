using Kaze.Core.Tests.Infrastructure;
using Kaze.Core.Waiting;
using Xunit;

namespace Kaze.Core.Tests.Waiting;

/// <summary>
/// A reader's companion (the sidecar's peer reads, lent to the edge's reader) is polled while the
/// reader polls, keeps it polling while it has work, and is told before the reader sleeps.
/// </summary>
public sealed class RingWaiterCompanionTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void WaitToRead_EmptyRing_PollsTheCompanionThenTellsItBeforeSleeping()
    {
        using ChannelPair pair = _channels.CreatePair();
        var companion = new RecordingCompanion(_ => false);
        pair.Reader.Companion = companion;

        Assert.Equal(ChannelStatus.TimedOut, pair.Reader.WaitToRead(TimeSpan.FromMilliseconds(50)));

        string events = companion.Events;
        Assert.Matches("^P+S$", events);
    }

    [Fact]
    public void WaitToRead_CompanionHasWork_PollingGoesOnPastTheSpinUntilTheRecordArrives()
    {
        // 3,000 polls take well over the longest spin (300 µs by default; at least one yield each).
        const int Busy = 3_000;
        using ChannelPair pair = _channels.CreatePair();
        var companion = new RecordingCompanion(polls =>
        {
            if (polls == Busy)
            {
                Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite([1, 2, 3]));
            }

            return polls <= Busy;
        });
        pair.Reader.Companion = companion;

        Assert.Equal(ChannelStatus.Ok, pair.Reader.WaitToRead(Deadline.Default));

        Assert.Equal(0, companion.Sleepings);
        Assert.True(companion.Polls >= Busy, $"{companion.Polls} polls");
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.Equal([1, 2, 3], record.ToArray());
        pair.Reader.Release();
    }

    [Fact]
    public void WaitToRead_CompanionAlwaysBusy_TheTimeoutStillEndsTheWait()
    {
        using ChannelPair pair = _channels.CreatePair();
        var companion = new RecordingCompanion(_ => true);
        pair.Reader.Companion = companion;

        // On its own thread: a wait that ignored its timeout would spin for good.
        var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(TimeSpan.FromMilliseconds(50)));

        Assert.Equal(ChannelStatus.TimedOut, call.Result(Deadline.Short, "the 50 ms wait with a busy companion to time out"));
        Assert.Equal(1, companion.Sleepings);
    }

    [Fact]
    public void WaitToRead_CompanionAlwaysBusy_TheOtherSideClosingEndsTheWait()
    {
        using ChannelPair pair = _channels.CreatePair();
        var companion = new RecordingCompanion(polls =>
        {
            if (polls == 1_000)
            {
                pair.Sidecar.Close();
            }

            return true;
        });
        pair.Reader.Companion = companion;

        var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Deadline.Default));

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "the wait with a busy companion to see the close"));
        Assert.Equal(1, companion.Sleepings);
    }

    /// <summary>Records P for each poll and S for each sleep; <c>hasWork</c> gets the poll's number (from 1).</summary>
    private sealed class RecordingCompanion(Func<int, bool> hasWork) : IReaderCompanion
    {
        private readonly System.Text.StringBuilder _events = new();

        public int Polls { get; private set; }

        public int Sleepings { get; private set; }

        public string Events => _events.ToString();

        public bool Poll()
        {
            Polls++;
            if (_events.Length < 100_000)
            {
                _events.Append('P');
            }

            return hasWork(Polls);
        }

        public void Sleeping()
        {
            Sleepings++;
            _events.Append('S');
        }
    }
}
