using System.Buffers.Binary;
using System.Text;
using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>
/// The channel file is a public contract (docs/shm-format.md): every documented offset and size is
/// asserted here one by one, against the constants and against the bytes of a real channel file.
/// </summary>
public sealed class ChannelLayoutTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Theory]
    [InlineData("magic", ChannelLayout.MagicOffset, 0)]
    [InlineData("layout version", ChannelLayout.VersionOffset, 8)]
    [InlineData("header size", ChannelLayout.HeaderSizeOffset, 12)]
    [InlineData("file size", ChannelLayout.FileSizeOffset, 16)]
    [InlineData("ring 0 capacity", ChannelLayout.Capacity0Offset, 24)]
    [InlineData("ring 1 capacity", ChannelLayout.Capacity1Offset, 28)]
    [InlineData("ring 0 offset", ChannelLayout.Ring0OffsetOffset, 32)]
    [InlineData("ring 1 offset", ChannelLayout.Ring1OffsetOffset, 40)]
    [InlineData("sidecar pid", ChannelLayout.SidecarPidOffset, 128)]
    [InlineData("sidecar state", ChannelLayout.SidecarStateOffset, 132)]
    [InlineData("sidecar start time", ChannelLayout.SidecarStartTimeOffset, 136)]
    [InlineData("host pid", ChannelLayout.HostPidOffset, 256)]
    [InlineData("host state", ChannelLayout.HostStateOffset, 260)]
    [InlineData("host start time", ChannelLayout.HostStartTimeOffset, 264)]
    public void HeaderFieldOffset_EachField_IsTheDocumentedOffset(string field, int actual, int documented)
    {
        Assert.True(documented == actual, $"{field}: offset {actual}, documented {documented}");
    }

    [Theory]
    [InlineData("tail (producer)", ChannelLayout.TailOffset, 0)]
    [InlineData("head (consumer)", ChannelLayout.HeadOffset, 128)]
    [InlineData("data futex", ChannelLayout.DataFutexOffset, 256)]
    [InlineData("space futex", ChannelLayout.SpaceFutexOffset, 384)]
    [InlineData("data area", ChannelLayout.RingControlSize, 512)]
    public void RingControlOffset_EachWord_IsTheDocumentedOffset(string word, int actual, int documented)
    {
        Assert.True(documented == actual, $"{word}: ring offset {actual}, documented {documented}");
    }

    [Fact]
    public void RingControlWords_ProducerAndConsumerWords_Are128BytesApart()
    {
        int[] words = [ChannelLayout.TailOffset, ChannelLayout.HeadOffset, ChannelLayout.DataFutexOffset, ChannelLayout.SpaceFutexOffset, ChannelLayout.RingControlSize];
        for (int i = 1; i < words.Length; i++)
        {
            Assert.True(words[i] - words[i - 1] >= 128, $"ring words at {words[i - 1]} and {words[i]} share a 128-byte block");
        }
    }

    [Fact]
    public void Constants_SizesAndValues_AreTheDocumentedOnes()
    {
        Assert.Equal(0x4E41_4843_455A_414BUL, ChannelLayout.Magic);
        Span<byte> magic = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(magic, ChannelLayout.Magic);
        Assert.Equal("KAZECHAN", Encoding.ASCII.GetString(magic));
        Assert.Equal(1u, ChannelLayout.Version);
        Assert.Equal(4096, ChannelLayout.HeaderSize);
        Assert.Equal(512, ChannelLayout.RingControlSize);
        Assert.Equal(4, ChannelLayout.RecordHeaderSize);
        Assert.Equal(8, ChannelLayout.RecordAlignment);
        Assert.Equal(0xFFFF_FFFFu, ChannelLayout.PaddingLength);
        Assert.Equal(64, ChannelLayout.MinCapacity);
        Assert.Equal(1 << 30, ChannelLayout.MaxCapacity);
        Assert.Equal(0, ChannelLayout.StateNone);
        Assert.Equal(1, ChannelLayout.StateOpen);
        Assert.Equal(2, ChannelLayout.StateClosed);
        Assert.Equal(0, ChannelLayout.SidecarToHostRing);
        Assert.Equal(1, ChannelLayout.HostToSidecarRing);
    }

    [Theory]
    [InlineData(64, 64, 4672, 5248)]
    [InlineData(4096, 8192, 8704, 17408)]
    [InlineData(1 << 20, 1 << 20, 4096 + 512 + (1 << 20), 4096 + 1024 + (2 << 20))]
    public void RingOffsetsAndFileSize_GivenCapacities_FollowTheDocumentedFormula(int capacity0, int capacity1, long ring1Offset, long fileSize)
    {
        Assert.Equal(4096, ChannelLayout.Ring0Offset);
        Assert.Equal(ring1Offset, ChannelLayout.Ring1Offset(capacity0));
        Assert.Equal(fileSize, ChannelLayout.FileSize(capacity0, capacity1));
    }

    [Theory]
    [InlineData(64, 28)]
    [InlineData(128, 60)]
    [InlineData(4096, 2044)]
    [InlineData(1 << 20, (1 << 19) - 4)]
    [InlineData(1 << 30, (1 << 29) - 4)]
    public void MaxRecordLength_Capacity_IsHalfTheCapacityMinusTheLengthWord(int capacity, int expected)
    {
        Assert.Equal(expected, ChannelLayout.MaxRecordLength(capacity));
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(1, 8)]
    [InlineData(4, 8)]
    [InlineData(5, 16)]
    [InlineData(12, 16)]
    [InlineData(13, 24)]
    [InlineData(2044, 2048)]
    public void RecordSize_PayloadLength_IsLengthWordPlusPayloadPaddedTo8(int payload, long expected)
    {
        Assert.Equal(expected, ChannelLayout.RecordSize(payload));
    }

    [Theory]
    [InlineData(64L, true)]
    [InlineData(4096L, true)]
    [InlineData(1L << 30, true)]
    [InlineData(0L, false)]
    [InlineData(32L, false)]
    [InlineData(63L, false)]
    [InlineData(96L, false)]
    [InlineData(1000L, false)]
    [InlineData(1L << 31, false)]
    public void IsValidCapacity_Value_TrueOnlyForPowersOfTwoFrom64To1GiB(long capacity, bool expected)
    {
        Assert.Equal(expected, ChannelLayout.IsValidCapacity(capacity));
    }

    [Fact]
    public void Create_RealChannel_FileHeaderHoldsTheDocumentedBytes()
    {
        string name = _channels.NewName();
        _channels.Create(name, sidecarToHost: 4096, hostToSidecar: 8192);
        string path = ShmChannel.GetPath(name);
        Assert.Equal($"/dev/shm/kaze-{name}", path);

        byte[] file = RawChannelFile.Read(path);

        Assert.Equal(17408, file.Length);
        Assert.Equal("KAZECHAN", Encoding.ASCII.GetString(file, 0, 8));
        Assert.Equal(0x4E41_4843_455A_414BUL, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(0)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12)));
        Assert.Equal(17408ul, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(16)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(24)));
        Assert.Equal(8192u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(28)));
        Assert.Equal(4096ul, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(32)));
        Assert.Equal(8704ul, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(40)));
        AssertZero(file, 48, 128, "reserved immutable header");

        Assert.Equal(Environment.ProcessId, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(128)));
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(132)));
        Assert.Equal(RawChannelFile.ProcessStartTime(Environment.ProcessId), BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(136)));
        AssertZero(file, 144, 256, "rest of the sidecar block");

        // No host yet.
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(256)));
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(260)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(264)));
        AssertZero(file, 256, 17408, "host block and both rings of a new channel");
    }

    [Fact]
    public void Open_RealChannel_HostBlockHoldsPidStateAndStartTime()
    {
        string name = _channels.NewName();
        _channels.Create(name);
        string path = ShmChannel.GetPath(name);

        ShmChannel host = _channels.Open(name);

        Assert.Equal(Environment.ProcessId, (int)RawChannelFile.U32(path, 256));
        Assert.Equal(1u, RawChannelFile.U32(path, 260));
        Assert.Equal(RawChannelFile.ProcessStartTime(Environment.ProcessId), RawChannelFile.U64(path, 264));

        host.Dispose();
        Assert.Equal(2u, RawChannelFile.U32(path, 260));
    }

    [Fact]
    public void Close_Sidecar_SidecarStateBecomesClosed()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);

        sidecar.Close();

        Assert.Equal(2u, RawChannelFile.U32(ShmChannel.GetPath(name), 132));
    }

    [Fact]
    public void Commit_Records_LengthWordPayloadAndPaddingAreWhereDocumented()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name, sidecarToHost: 4096, hostToSidecar: 8192);
        ShmChannel host = _channels.Open(name);
        string path = ShmChannel.GetPath(name);
        const long ring0 = 4096;
        const long ring1 = 4096 + 512 + 4096;

        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite("hello"u8));
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite(ReadOnlySpan<byte>.Empty));

        Assert.Equal(5u, RawChannelFile.U32(path, ring0 + 512));
        Assert.Equal("hello", Encoding.ASCII.GetString(RawChannelFile.ReadAt(path, ring0 + 512 + 4, 5)));
        Assert.Equal(0u, RawChannelFile.U32(path, ring0 + 512 + 16));
        Assert.Equal(24ul, RawChannelFile.U64(path, ring0 + 0));
        Assert.Equal(0ul, RawChannelFile.U64(path, ring0 + 128));

        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out _));
        host.Reader.Release();
        Assert.Equal(24ul, RawChannelFile.U64(path, ring0 + 128));

        // The host writes ring 1, which starts right after ring 0's data.
        Assert.Equal(ChannelStatus.Ok, host.Writer.TryWrite("abcdefghijkl"u8));
        Assert.Equal(12u, RawChannelFile.U32(path, ring1 + 512));
        Assert.Equal("abcdefghijkl", Encoding.ASCII.GetString(RawChannelFile.ReadAt(path, ring1 + 512 + 4, 12)));
        Assert.Equal(16ul, RawChannelFile.U64(path, ring1 + 0));
        Assert.Equal(0ul, RawChannelFile.U64(path, ring1 + 128));
    }

    [Fact]
    public void Commit_RecordThatWouldStraddleTheEnd_WritesAPaddingMarkerAndStartsAtZero()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name, sidecarToHost: 64, hostToSidecar: 64);
        ShmChannel host = _channels.Open(name);
        string path = ShmChannel.GetPath(name);
        const long data = 4096 + 512;

        // 32 + 24 bytes: the next record starts at 56, 8 bytes before the end.
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite(new byte[20]));
        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out _));
        host.Reader.Release();

        // A 16-byte record does not fit in the last 8 bytes.
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite("twelve bytes"u8));

        Assert.Equal(0xFFFF_FFFFu, RawChannelFile.U32(path, data + 56));
        Assert.Equal(12u, RawChannelFile.U32(path, data + 0));
        Assert.Equal("twelve bytes", Encoding.ASCII.GetString(RawChannelFile.ReadAt(path, data + 4, 12)));
        // The skipped 8 bytes count as written: tail = 56 + 8 + 16.
        Assert.Equal(80ul, RawChannelFile.U64(path, 4096));
        Assert.Equal(24, sidecar.Writer.UsedBytes);

        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.Equal("twelve bytes", Encoding.ASCII.GetString(record));
        host.Reader.Release();
        Assert.Equal(80ul, RawChannelFile.U64(path, 4096 + 128));
    }

    [Fact]
    public void WaitToRead_ReaderAsleep_DataFutexWordIsOne()
    {
        using ChannelPair pair = _channels.CreatePair();
        string path = ShmChannel.GetPath(pair.Name);
        Assert.Equal(0u, RawChannelFile.U32(path, 4096 + 256));

        var wait = BlockingCall<ChannelStatus>.Start("reader", () => pair.Reader.WaitToRead(Deadline.Short));
        Eventually.SpinUntil(() => RawChannelFile.U32(path, 4096 + 256) == 1, "ring 0's data futex word (offset 4096 + 256) to say the reader sleeps", Deadline.Short);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite("x"u8));

        Assert.Equal(ChannelStatus.Ok, wait.Result(Deadline.Short, "the reader to wake"));
        Assert.Equal(0u, RawChannelFile.U32(path, 4096 + 256));
    }

    [Fact]
    public void Claim_WriterAsleep_SpaceFutexWordIsOne()
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: 64);
        string path = ShmChannel.GetPath(pair.Name);
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));
        Assert.Equal(ChannelStatus.Ok, pair.Writer.TryWrite(new byte[28]));

        var claim = BlockingCall<ChannelStatus>.Start("writer", () =>
        {
            ChannelStatus status = pair.Writer.Claim(28, out _, Deadline.Short);
            if (status == ChannelStatus.Ok)
            {
                pair.Writer.Commit();
            }

            return status;
        });
        Eventually.SpinUntil(() => RawChannelFile.U32(path, 4096 + 384) == 1, "ring 0's space futex word (offset 4096 + 384) to say the writer sleeps", Deadline.Short);
        Assert.Equal(ChannelStatus.Ok, pair.Reader.TryRead(out _));
        pair.Reader.Release();

        Assert.Equal(ChannelStatus.Ok, claim.Result(Deadline.Short, "the writer to wake"));
        Assert.Equal(0u, RawChannelFile.U32(path, 4096 + 384));
    }

    private static void AssertZero(byte[] file, int from, int to, string what)
    {
        int nonZero = Array.FindIndex(file, from, to - from, b => b != 0);
        Assert.True(nonZero < 0, $"{what}: byte at offset {nonZero} is 0x{(nonZero < 0 ? 0 : file[nonZero]):X2}, expected zero");
    }
}
