using System.Buffers;
using System.Buffers.Binary;
using Kaze.Protocol.Tests.TestSupport;

namespace Kaze.Protocol.Tests;

public sealed class TcpFramingTests
{
    [Fact]
    public void Layout_OffsetsAndSizes_AreTheDocumentedOnes()
    {
        Assert.Equal(0, TcpFraming.TotalLengthOffset);
        Assert.Equal(4, TcpFraming.TotalLengthSize);
        Assert.Equal(4, TcpFraming.HeaderLengthOffset);
        Assert.Equal(4, TcpFraming.HeaderLengthSize);
        Assert.Equal(8, TcpFraming.HeaderOffset);
        Assert.Equal(8, TcpFraming.PrefixSize);
        Assert.Equal(4, TcpFraming.MinTotalLength);
        Assert.Equal(16 * 1024 * 1024, TcpFraming.DefaultMaxFrameSize);
        Assert.Equal(int.MaxValue - 4, TcpFraming.MaxSupportedFrameSize);
    }

    [Fact]
    public void Write_KnownPacket_GivesPinnedBytes()
    {
        var header = new Hdr { SrcIdent = 1 };
        byte[] expected =
        [
            0x08, 0x00, 0x00, 0x00, // total = 4 + 2 + 2
            0x02, 0x00, 0x00, 0x00, // header length
            0x10, 0x01,             // srcIdent = 1
            (byte)'h', (byte)'i',
        ];

        Assert.Equal(expected.Length, TcpFraming.GetFrameSize(header, 2));
        var destination = new byte[expected.Length];
        Assert.Equal(expected.Length, TcpFraming.Write(destination, header, "hi"u8));
        Assert.Equal(expected, destination);

        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(expected.Length, TcpFraming.Write(writer, header, "hi"u8));
        Assert.Equal(expected, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Write_Frame_IsTotalLengthThenRingPayload()
    {
        var header = Hdr.CreateRequest(new Ident(7), "echo.req", 1, 10);
        byte[] body = [1, 2, 3, 4, 5];
        var frame = new byte[TcpFraming.GetFrameSize(header, body.Length)];
        var payload = new byte[RingFraming.GetPayloadSize(header, body.Length)];

        TcpFraming.Write(frame, header, body);
        RingFraming.Write(payload, header, body);

        Assert.Equal(payload, frame[4..]);
        Assert.Equal((uint)payload.Length, BinaryPrimitives.ReadUInt32LittleEndian(frame));
    }

    [Fact]
    public void Write_DestinationTooSmall_Throws()
    {
        var header = new Hdr { BodyType = "abc" };

        Assert.Throws<ArgumentException>(() => TcpFraming.Write(new byte[TcpFraming.GetFrameSize(header, 1) - 1], header, [1]));
    }

    [Fact]
    public void Write_BufferWriterWithSmallSpans_AsksOnlyForPrefixAndHeaderAtOnce()
    {
        var header = new Hdr { BodyType = "big" };
        byte[] body = HeaderGenerators.RandomBytes(1, 10_000);
        var writer = new ChunkingBufferWriter(chunkSize: 7);
        var expected = new byte[TcpFraming.GetFrameSize(header, body.Length)];
        TcpFraming.Write(expected, header, body);

        int written = TcpFraming.Write(writer, header, body);

        Assert.Equal(expected.Length, written);
        Assert.Equal(expected, writer.WrittenBytes);
        Assert.Equal(TcpFraming.PrefixSize + header.CalculateSize(), writer.LargestSpanRequested);
    }

    [Fact]
    public void Write_Packet_WritesItsHeaderAndBody()
    {
        using var packet = Packet.CreateNotify(new Ident(3), "n", [4, 5]);
        var writer = new ArrayBufferWriter<byte>();

        TcpFraming.Write(writer, packet);

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(writer.WrittenMemory));
        Assert.True(result.IsComplete);
        using var decoded = result.Packet;
        Assert.Equal(packet.Header, decoded.Header);
        Assert.Equal([4, 5], decoded.Body.ToArray());
    }

    [Fact]
    public void ReadFrame_WholeFrame_IsCompleteAndConsumesExactlyTheFrame()
    {
        byte[] frame = Frames.Tcp(new Hdr { BodyType = "x", SrcIdent = 2 }, [1, 2, 3]);
        byte[] twoFrames = [.. frame, .. Frames.Tcp(new Hdr { SrcIdent = 3 }, [])];
        var buffer = new ReadOnlySequence<byte>(twoFrames);

        var first = TcpFraming.ReadFrame(buffer);
        Assert.Equal(TcpFrameStatus.Complete, first.Status);
        Assert.Equal(DecodeError.None, first.Error);
        Assert.NotNull(first.Packet);
        using (first.Packet)
        {
            Assert.Equal(2u, first.Packet.Header.SrcIdent);
            Assert.Equal([1, 2, 3], first.Packet.Body.ToArray());
        }

        buffer = buffer.Slice(first.Consumed);
        Assert.Equal(twoFrames.Length - frame.Length, buffer.Length);

        var second = TcpFraming.ReadFrame(buffer);
        Assert.True(second.IsComplete);
        using (second.Packet)
        {
            Assert.Equal(3u, second.Packet.Header.SrcIdent);
            Assert.Equal(0, second.Packet.BodyLength);
        }

        Assert.True(buffer.Slice(second.Consumed).IsEmpty);
    }

    [Fact]
    public void ReadFrame_ArrivingOneByteAtATime_NeedsMoreDataUntilTheLastByte()
    {
        byte[] frame = Frames.Tcp(Hdr.CreateRequest(new Ident(1), "echo.req", 9, 100), [5, 6, 7]);

        for (int received = 0; received < frame.Length; received++)
        {
            var partial = TcpFraming.ReadFrame(Sequences.OneBytePerSegment(frame.AsSpan(0, received)));
            Assert.Equal(TcpFrameStatus.NeedMoreData, partial.Status);
            Assert.Null(partial.Packet);
            Assert.Equal(DecodeError.None, partial.Error);
        }

        var complete = TcpFraming.ReadFrame(Sequences.OneBytePerSegment(frame));
        Assert.True(complete.IsComplete);
        complete.Packet.Dispose();
    }

    [Fact]
    public void ReadFrame_TotalOverMax_IsInvalidAsSoonAsTheTotalArrives()
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, TcpFraming.DefaultMaxFrameSize + 1u);

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(buffer));

        Assert.Equal(TcpFrameStatus.Invalid, result.Status);
        Assert.Equal(DecodeError.FrameTooLarge, result.Error);
        Assert.Null(result.Packet);
    }

    [Theory]
    [InlineData(101u, 100)]
    [InlineData(uint.MaxValue, TcpFraming.DefaultMaxFrameSize)]
    [InlineData(0x8000_0000u, TcpFraming.MaxSupportedFrameSize)]
    [InlineData(int.MaxValue, TcpFraming.MaxSupportedFrameSize)]
    public void ReadFrame_TotalOverConfiguredMax_IsFrameTooLarge(uint total, int max)
    {
        var buffer = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, total);

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(buffer), max);

        Assert.Equal(DecodeError.FrameTooLarge, result.Error);
    }

    [Fact]
    public void ReadFrame_TotalAtMax_IsAccepted()
    {
        byte[] frame = Frames.Tcp(new Hdr(), new byte[96]);
        Assert.Equal(100u, BinaryPrimitives.ReadUInt32LittleEndian(frame));

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(frame), maxFrameSize: 100);

        Assert.True(result.IsComplete);
        result.Packet.Dispose();
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(3u)]
    public void ReadFrame_TotalBelowFour_IsFrameLengthTooSmall(uint total)
    {
        var buffer = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, total);

        Assert.Equal(DecodeError.FrameLengthTooSmall, TcpFraming.ReadFrame(new ReadOnlySequence<byte>(buffer)).Error);
        Assert.Equal(DecodeError.FrameLengthTooSmall, TcpFraming.ReadFrame(new ReadOnlySequence<byte>(buffer, 0, 4)).Error);
    }

    [Theory]
    [InlineData(8u, 5u)]
    [InlineData(4u, 1u)]
    [InlineData(100u, 97u)]
    [InlineData(100u, uint.MaxValue)]
    [InlineData(100u, 0x8000_0000u)]
    public void ReadFrame_HeaderLengthBeyondFrame_IsInvalidBeforeTheBodyArrives(uint total, uint headerLength)
    {
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, total);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(4), headerLength);

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(prefix));

        Assert.Equal(TcpFrameStatus.Invalid, result.Status);
        Assert.Equal(DecodeError.HeaderLengthOutOfRange, result.Error);
    }

    [Fact]
    public void ReadFrame_PartialFrameAtEndOfStream_IsTruncated()
    {
        byte[] frame = Frames.Tcp(new Hdr { BodyType = "abc" }, [1, 2, 3]);

        for (int received = 1; received < frame.Length; received++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, received);
            Assert.Equal(TcpFrameStatus.NeedMoreData, TcpFraming.ReadFrame(buffer).Status);

            var atEnd = TcpFraming.ReadFrame(buffer, isCompleted: true);
            Assert.Equal(TcpFrameStatus.Invalid, atEnd.Status);
            Assert.Equal(DecodeError.Truncated, atEnd.Error);
        }
    }

    [Fact]
    public void ReadFrame_EmptyBufferAtEndOfStream_NeedsMoreData()
    {
        var result = TcpFraming.ReadFrame(ReadOnlySequence<byte>.Empty, isCompleted: true);

        Assert.Equal(TcpFrameStatus.NeedMoreData, result.Status);
        Assert.Equal(DecodeError.None, result.Error);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, (byte)'a' })]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x5A, 0x02, 0x08 })]
    public void ReadFrame_GarbageHeader_IsInvalidHeader(byte[] headerBytes)
    {
        byte[] frame = new byte[8 + headerBytes.Length + 2];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(frame.Length - 4));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)headerBytes.Length);
        headerBytes.CopyTo(frame, 8);

        var result = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(frame));
        var split = TcpFraming.ReadFrame(Sequences.OneBytePerSegment(frame));

        Assert.Equal(DecodeError.InvalidHeader, result.Error);
        Assert.Equal(DecodeError.InvalidHeader, split.Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void ReadFrame_UnusableMaximum_Throws(int max)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TcpFraming.ReadFrame(ReadOnlySequence<byte>.Empty, max));
    }
}
