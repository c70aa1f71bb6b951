using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>Claim / commit rules of the producing end (the model-based property test is in RingPropertyTests).</summary>
public sealed class RingWriterTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Theory]
    [InlineData(64)]
    [InlineData(4096)]
    public void TryClaim_MaxRecordLength_OkAndMaxPlusOne_TooLarge(int capacity)
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: capacity);
        RingWriter writer = pair.Writer;
        Assert.Equal(capacity / 2 - 4, writer.MaxRecordLength);

        Assert.Equal(ChannelStatus.TooLarge, writer.TryClaim(writer.MaxRecordLength + 1, out Span<byte> none));
        Assert.True(none.IsEmpty);
        Assert.Equal(ChannelStatus.TooLarge, writer.TryWrite(new byte[writer.MaxRecordLength + 1]));
        Assert.Equal(ChannelStatus.TooLarge, writer.TryClaim(int.MaxValue, out _));

        Assert.Equal(ChannelStatus.Ok, writer.TryClaim(writer.MaxRecordLength, out Span<byte> payload));
        Assert.Equal(writer.MaxRecordLength, payload.Length);
        writer.Commit();
    }

    [Fact]
    public void TryClaim_NegativeLength_ThrowsArgumentOutOfRange()
    {
        using ChannelPair pair = _channels.CreatePair();

        Assert.Throws<ArgumentOutOfRangeException>(() => pair.Writer.TryClaim(-1, out _));
    }

    [Fact]
    public void TryClaim_WhileAClaimIsPending_ThrowsInvalidOperation()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(8, out _));

        Assert.Throws<InvalidOperationException>(() => pair.Writer.TryClaim(8, out _));
    }

    [Fact]
    public void Commit_WithoutAClaim_ThrowsInvalidOperation()
    {
        using ChannelPair pair = _channels.CreatePair();

        Assert.Throws<InvalidOperationException>(() => pair.Writer.Commit());
    }

    [Fact]
    public void Commit_LongerThanClaimed_ThrowsArgumentOutOfRange()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(8, out _));

        Assert.Throws<ArgumentOutOfRangeException>(() => pair.Writer.Commit(9));
    }

    [Fact]
    public void Commit_ShorterThanClaimed_PublishesOnlyTheCommittedBytes()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(100, out Span<byte> payload));
        "abc"u8.CopyTo(payload);

        pair.Writer.Commit(3);

        Assert.Equal(8, pair.Writer.UsedBytes);
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.True(record.SequenceEqual("abc"u8));
    }

    [Fact]
    public void Commit_WithPublishFalse_InvisibleUntilPublish()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(1, out Span<byte> a));
        a[0] = 1;
        pair.Writer.Commit(1, publish: false);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(1, out Span<byte> b));
        b[0] = 2;
        pair.Writer.Commit(1, publish: false);

        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out _));
        Assert.Equal(0, pair.Writer.UsedBytes);

        pair.Writer.Publish();

        Assert.Equal(16, pair.Writer.UsedBytes);
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> first));
        Assert.Equal(1, first[0]);
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> second));
        Assert.Equal(2, second[0]);
    }

    [Fact]
    public void Abandon_PendingClaim_WritesNothing()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryClaim(10, out _));

        pair.Writer.Abandon();

        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("next"u8));
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.True(record.SequenceEqual("next"u8));
    }

    [Fact]
    public void TryClaim_RingFullUntilReleased_FullThenOk()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Full, pair.Writer.TryClaim(0, out Span<byte> none));
        Assert.True(none.IsEmpty);

        // Read but not released: still full.
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Full, pair.Writer.TryClaim(0, out _));

        pair.Reader.Release();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
    }

    [Fact]
    public void Write_ChannelClosedByThisSide_ReturnsClosed()
    {
        using ChannelPair pair = _channels.CreatePair();

        pair.Sidecar.Close();

        Assert.Equal(ChannelStatus.Closed, pair.Writer.TryWrite("x"u8));
        Assert.Equal(ChannelStatus.Closed, pair.Writer.Write("x"u8, Deadline.Short));
    }

    [Fact]
    public void TryClaim_HeadBeyondTheTail_ReturnsCorruptAndClosesTheChannel()
    {
        using ChannelPair pair = _channels.CreatePair();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[1000]));
        }

        // The ring looks full, so the writer loads the head: one beyond its own tail is impossible.
        RawChannelFile.WriteU64At(ShmChannel.GetPath(pair.Name), 4096 + 128, 1 << 20);

        Assert.Equal(ChannelStatus.Corrupt, pair.Writer.TryWrite(new byte[1000]));
        Assert.Equal("ring 0 (sidecar -> host): head (offset 128) is 1048576, allowed a multiple of 8 from tail - capacity -64 to the tail 4032", pair.Sidecar.Corruption);
        Assert.Equal(ChannelStatus.Closed, pair.Writer.TryWrite(new byte[8]));
    }
}
