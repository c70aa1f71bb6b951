using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests.Waiting;

/// <summary>What waits return when either side closes or disposes the channel.</summary>
public sealed class RingWaiterCloseTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void TryRead_WriterClosedAfterWriting_DrainsEveryRecordThenReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 128);
        // Records of 32, 32, 32 and 24 bytes end 8 bytes before the end, so the fifth (16 bytes) wraps.
        int[] lengths = [28, 28, 28, 20, 12];
        var written = new List<byte[]>();
        for (int i = 0; i < lengths.Length; i++)
        {
            if (i == 3)
            {
                // Make room for the rest: the reader takes the first two.
                Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
                Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
                pair.Reader.Release();
                written.RemoveRange(0, 2);
            }

            byte[] record = new byte[lengths[i]];
            record.AsSpan().Fill((byte)(i + 1));
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(record));
            written.Add(record);
        }

        pair.Sidecar.Close();

        foreach (byte[] expected in written)
        {
            Assert.Equal(ChannelStatus.Ok, pair.Reader.WaitToRead(Deadline.Short));
            Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
            Assert.True(record.SequenceEqual(expected), $"record of {expected.Length} bytes differs");
        }

        Assert.Equal(ChannelStatus.Closed, pair.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Closed, pair.Reader.WaitToRead(Deadline.Short));
        Assert.Equal(ChannelStatus.Closed, pair.Reader.Read(out _, Deadline.Short));
    }

    [Fact]
    public void WaitToRead_WriterClosesWhileReaderAsleep_ReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair();
        long blocked = pair.Reader.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Deadline.Short));
        Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToRead to go to sleep on the empty ring", Deadline.Short);

        pair.Sidecar.Close();

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "WaitToRead to return after the writer closed"));
    }

    [Fact]
    public async Task WaitToReadAsync_WriterClosesWhileReaderAsleep_ReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair();
        long blocked = pair.Reader.BlockedWaits;
        Task<ChannelStatus> wait = pair.Reader.WaitToReadAsync().AsTask();
        Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToReadAsync to go to sleep on the empty ring", Deadline.Short);

        pair.Sidecar.Close();

        Assert.Equal(ChannelStatus.Closed, await wait.Within("WaitToReadAsync to complete after the writer closed", Deadline.Short));
    }

    [Fact]
    public void Claim_ReaderClosesWhileWriterAsleepOnAFullRing_ReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        FillRing0(pair);
        long blocked = pair.Writer.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("writer", () => pair.Writer.Claim(8, out _, Deadline.Short));
        Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "the blocking Claim to go to sleep on the full ring", Deadline.Short);

        pair.Host.Close();

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "the blocking Claim to return after the reader closed"));
        Assert.Equal(ChannelStatus.Closed, pair.Writer.TryClaim(8, out _));
    }

    [Fact]
    public async Task WaitToWriteAsync_ReaderClosesWhileWriterAsleep_ReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        FillRing0(pair);
        long blocked = pair.Writer.BlockedWaits;
        Task<ChannelStatus> wait = pair.Writer.WaitToWriteAsync(8).AsTask();
        Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "WaitToWriteAsync to go to sleep on the full ring", Deadline.Short);

        pair.Host.Close();

        Assert.Equal(ChannelStatus.Closed, await wait.Within("WaitToWriteAsync to complete after the reader closed", Deadline.Short));
    }

    [Fact]
    public void Dispose_WhileAnotherThreadIsAsleepInWaitToRead_ThatWaitReturnsClosed()
    {
        ChannelPair pair = _channels.CreatePair();
        long blocked = pair.Reader.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Timeout.InfiniteTimeSpan));
        Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToRead to go to sleep on the empty ring", Deadline.Short);

        pair.Host.Dispose();

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "WaitToRead to return after its channel was disposed"));
        // The sidecar sees the host's close too.
        Assert.Equal(ChannelStatus.Closed, pair.Sidecar.Writer.TryClaim(1, out _));
    }

    [Fact]
    public void Dispose_WhileAnotherThreadIsAsleepInClaim_ThatClaimReturnsClosedAndTheFileIsRemoved()
    {
        ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        FillRing0(pair);
        long blocked = pair.Writer.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("writer", () => pair.Writer.Claim(8, out _, Timeout.InfiniteTimeSpan));
        Eventually.SpinUntil(() => pair.Writer.BlockedWaits > blocked, "the blocking Claim to go to sleep on the full ring", Deadline.Short);

        pair.Sidecar.Dispose();

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "the blocking Claim to return after its channel was disposed"));
        Assert.False(File.Exists(ShmChannel.GetPath(pair.Name)));
    }

    [Fact]
    public async Task Dispose_WhileWaitToReadAsyncIsPending_ItCompletesClosed()
    {
        ChannelPair pair = _channels.CreatePair();
        long blocked = pair.Reader.BlockedWaits;
        Task<ChannelStatus> wait = pair.Reader.WaitToReadAsync().AsTask();
        Eventually.SpinUntil(() => pair.Reader.BlockedWaits > blocked, "WaitToReadAsync to go to sleep on the empty ring", Deadline.Short);

        pair.Host.Dispose();

        Assert.Equal(ChannelStatus.Closed, await wait.Within("WaitToReadAsync to complete after its channel was disposed", Deadline.Short));
    }

    [Fact]
    public void Dispose_ByThePeerWhileThisSideIsAsleepInWaitToRead_ReturnsClosed()
    {
        ChannelPair pair = _channels.CreatePair();
        long blocked = pair.Sidecar.Reader.BlockedWaits;
        var call = BlockingCall<ChannelStatus>.Start("sidecar reader", () => pair.Sidecar.Reader.WaitToRead(Timeout.InfiniteTimeSpan));
        Eventually.SpinUntil(() => pair.Sidecar.Reader.BlockedWaits > blocked, "the sidecar's WaitToRead to go to sleep", Deadline.Short);

        pair.Host.Dispose();

        Assert.Equal(ChannelStatus.Closed, call.Result(Deadline.Short, "the sidecar's WaitToRead to return after the host disposed"));
    }

    [Fact]
    [Trait("Category", "Stress")]
    public void Dispose_WhileAnotherThreadIsAsleepInWaitToRead2000Rounds_AlwaysClosedNeverACrash()
    {
        // In a peer process: a wait that touched the unmapped file would kill the process.
        string name = _channels.NewName();
        using var peer = TestPeerProcess.Start("dispose-during-wait", name, 2000);

        int exitCode = peer.WaitForExit(TimeSpan.FromMinutes(2), "2000 rounds of Dispose during a sleeping WaitToRead");

        Assert.True(exitCode == 0, $"the peer exited with {exitCode}{peer.Diagnostics()}");
        Assert.Contains("ok rounds=2000 Closed=2000", peer.Output, StringComparison.Ordinal);
    }

    private static void FillRing0(ChannelPair pair)
    {
        while (pair.Writer.TryWrite(new byte[8]) == ChannelStatus.Ok)
        {
        }

        Assert.Equal(ChannelStatus.Full, pair.Writer.TryClaim(8, out _));
    }
}
