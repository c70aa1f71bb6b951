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
}
