using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>Read / release rules of the consuming end, and what it does with a corrupt ring.</summary>
public sealed class RingReaderTests : IDisposable
{
    private const long Ring0 = 4096;
    private const long Data0 = 4096 + 512;

    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void TryRead_NothingWritten_ReturnsEmpty()
    {
        using ChannelPair pair = _channels.CreatePair();

        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.True(record.IsEmpty);
    }

    [Fact]
    public void TryReadIntoBuffer_BufferTooSmall_ReturnsTooLargeAndKeepsTheRecord()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("0123456789"u8));

        Assert.Equal(ChannelStatus.TooLarge, pair.Reader.TryRead(new byte[4], out int needed));
        Assert.Equal(10, needed);

        byte[] buffer = new byte[16];
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(buffer, out int length));
        Assert.Equal(10, length);
        Assert.True(buffer.AsSpan(0, length).SequenceEqual("0123456789"u8));
        Assert.Equal(0, pair.Reader.UsedBytes);
    }

    [Fact]
    public void Release_SeveralRecordsRead_FreesThemAllAtOnce()
    {
        using ChannelPair pair = _channels.CreatePair();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[12]));
        }

        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        Assert.Equal(48, pair.Reader.UsedBytes);

        pair.Reader.Release();

        Assert.Equal(16, pair.Reader.UsedBytes);
    }

    [Fact]
    public void TryRead_LengthWordLargerThanTheMaximum_ReturnsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        string path = ShmChannel.GetPath(pair.Name);
        RawChannelFile.WriteU32At(path, Data0, 5000);
        RawChannelFile.WriteU64At(path, Ring0, 8);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
    }

    [Fact]
    public void TryRead_RecordEndingPastTheTail_ReturnsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        string path = ShmChannel.GetPath(pair.Name);
        RawChannelFile.WriteU32At(path, Data0, 100);
        RawChannelFile.WriteU64At(path, Ring0, 8);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
    }

    [Fact]
    public void TryRead_TailMoreThanACapacityAhead_ReturnsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        RawChannelFile.WriteU64At(ShmChannel.GetPath(pair.Name), Ring0, 4096 + 8);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
    }

    [Fact]
    public void TryRead_PaddingAtTheReadPositionPastTheTail_ReturnsCorruptOnceAndForAllNamingTheJump()
    {
        using ChannelPair pair = _channels.CreatePair();
        string path = ShmChannel.GetPath(pair.Name);
        // The hostile host of issue 13: padding at offset 0 (= the read position), tail 8 bytes on.
        RawChannelFile.WriteU32At(path, Data0, 0xFFFF_FFFF);
        RawChannelFile.WriteU64At(path, Ring0, 8);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        // Sticky: no second look at the ring, and the channel is closed.
        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        // A wait ends at once (no sleep on a corrupt ring), and the read after it says why.
        Assert.Equal(ChannelStatus.Ok, pair.Reader.WaitToRead(TimeSpan.FromSeconds(5)));
        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        Assert.Equal("ring 0 (sidecar -> host): padding record at position 0 jumps to 4096, allowed at most the tail 8", pair.Reader.Corruption);
        Assert.Equal(pair.Reader.Corruption, pair.Host.Corruption);
        Assert.Equal(ChannelStatus.Closed, pair.Host.Writer.TryWrite("x"u8));
    }

    [Fact]
    public void TryRead_PaddingLandingExactlyOnTheTail_IsEmptyNotCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        string path = ShmChannel.GetPath(pair.Name);
        RawChannelFile.WriteU32At(path, Data0, 0xFFFF_FFFF);
        RawChannelFile.WriteU64At(path, Ring0, 4096);

        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out _));
        Assert.Null(pair.Reader.Corruption);
    }

    [Fact]
    public void WaitToRead_TailThreeCapacitiesAhead_EndsAndTheReadReportsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Empty, pair.Reader.TryRead(out _));
        // The wait path refreshes the tail too: it must check it there (393,204 phantom records before).
        RawChannelFile.WriteU64At(ShmChannel.GetPath(pair.Name), Ring0, 3 * 4096);

        ChannelStatus waited = pair.Reader.WaitToRead(TimeSpan.FromSeconds(5));

        Assert.Equal(ChannelStatus.Ok, waited);
        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        Assert.Equal("ring 0 (sidecar -> host): tail (offset 0) is 12288, allowed a multiple of 8 from the head 0 to head + capacity 4096", pair.Reader.Corruption);
    }

    [Fact]
    public void TryRead_TailNotAMultipleOf8_ReturnsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        RawChannelFile.WriteU64At(ShmChannel.GetPath(pair.Name), Ring0, 13);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        Assert.Contains("tail (offset 0) is 13", pair.Reader.Corruption, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_TailMovedBack_ReturnsCorrupt()
    {
        using ChannelPair pair = _channels.CreatePair();
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[12]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[12]));
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        RawChannelFile.WriteU64At(ShmChannel.GetPath(pair.Name), Ring0, 16);

        Assert.Equal(ChannelStatus.Corrupt, pair.Reader.TryRead(out _));
        Assert.Contains("tail (offset 0) is 16, allowed at least the read position 32", pair.Reader.Corruption, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_RecordStraddlingTheEndOfTheDataArea_ReturnsCorruptWithoutReadingPastIt()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 4096, hostToSidecar: 64);
        string path = ShmChannel.GetPath(pair.Name);
        // Ring 1 (host -> sidecar) is the last thing in the file: a record in its last 8 bytes
        // claiming 28 would be read past the end of the mapping. Seven empty records bring the
        // sidecar's read position to 56.
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(ChannelStatus.Ok, pair.Host.Writer.TryWrite(ReadOnlySpan<byte>.Empty));
            Assert.Equal(ChannelStatus.Ok, pair.Sidecar.Reader.TryRead(out _));
        }

        pair.Sidecar.Reader.Release();
        long ring1 = 4096 + 512 + 4096;
        RawChannelFile.WriteU32At(path, ring1 + 512 + 56, 28);
        RawChannelFile.WriteU64At(path, ring1, 56 + 32);

        Assert.Equal(ChannelStatus.Corrupt, pair.Sidecar.Reader.TryRead(out _));
        Assert.Equal("ring 1 (host -> sidecar): record at position 56 (data offset 56) of length 28 ends 88 bytes into the data area, allowed at most the capacity 64 (a record never straddles the end)", pair.Sidecar.Reader.Corruption);
    }
}
