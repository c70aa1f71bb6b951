using Google.Protobuf;

namespace Kaze.Protocol.Tests;

public sealed class RingFramingTests
{
    [Fact]
    public void Layout_OffsetsAndSizes_AreTheDocumentedOnes()
    {
        Assert.Equal(0, RingFraming.HeaderLengthOffset);
        Assert.Equal(4, RingFraming.HeaderLengthSize);
        Assert.Equal(4, RingFraming.HeaderOffset);
        Assert.Equal(4, RingFraming.PrefixSize);
    }

    [Fact]
    public void Write_KnownPacket_GivesPinnedBytes()
    {
        var header = new Hdr { SrcIdent = 1 };
        byte[] expected = [0x02, 0x00, 0x00, 0x00, 0x10, 0x01, (byte)'h', (byte)'i'];

        Assert.Equal(expected.Length, RingFraming.GetPayloadSize(header, 2));
        var destination = new byte[expected.Length];
        Assert.Equal(expected.Length, RingFraming.Write(destination, header, "hi"u8));
        Assert.Equal(expected, destination);
    }

    [Fact]
    public void Write_LargerDestination_WritesOnlyThePayload()
    {
        var header = new Hdr { BodyType = "a" };
        var destination = Enumerable.Repeat((byte)0xEE, 32).ToArray();

        int written = RingFraming.Write(destination, header, [7]);

        Assert.Equal(RingFraming.GetPayloadSize(header, 1), written);
        Assert.All(destination[written..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Write_DestinationTooSmall_Throws()
    {
        var header = new Hdr { BodyType = "abc" };
        int size = RingFraming.GetPayloadSize(header, 3);

        Assert.Throws<ArgumentException>(() => RingFraming.Write(new byte[size - 1], header, [1, 2, 3]));
    }

    [Fact]
    public void WriteHeader_ThenBodyInPlace_DecodesAsTheSamePacket()
    {
        var header = Hdr.CreateRequest(new Ident(2), "echo.req", 5, 100);
        byte[] body = [9, 8, 7, 6];
        var destination = new byte[RingFraming.GetPayloadSize(header, body.Length)];

        int bodyOffset = RingFraming.WriteHeader(destination, header);
        body.CopyTo(destination.AsSpan(bodyOffset));

        Assert.Equal(RingFraming.PrefixSize + header.CalculateSize(), bodyOffset);
        Assert.True(RingFraming.TryDecode(destination, out var decoded, out var decodedBody, out var error));
        Assert.Equal(DecodeError.None, error);
        Assert.Equal(header, decoded);
        Assert.Equal(body, decodedBody.ToArray());
    }

    [Fact]
    public void TryDecode_Payload_BodyIsASliceOfThePayload()
    {
        var payload = new byte[RingFraming.GetPayloadSize(new Hdr { SrcIdent = 3 }, 5)];
        RingFraming.Write(payload, new Hdr { SrcIdent = 3 }, [1, 2, 3, 4, 5]);

        Assert.True(RingFraming.TryDecode(payload, out _, out var body, out _));

        payload[^1] = 42;
        Assert.Equal(42, body[^1]);
    }

    [Fact]
    public void TryDecodePacket_Payload_CopiesTheBody()
    {
        var header = new Hdr { BodyType = "t", Headers = { ["k"] = ByteString.CopyFromUtf8("v") } };
        var payload = new byte[RingFraming.GetPayloadSize(header, 3)];
        RingFraming.Write(payload, header, [1, 2, 3]);

        Assert.True(RingFraming.TryDecodePacket(payload, out var packet, out var error));
        using (packet)
        {
            payload[^1] = 42;
            Assert.Equal(DecodeError.None, error);
            Assert.Equal(header, packet.Header);
            Assert.Equal([1, 2, 3], packet.Body.ToArray());
        }
    }

    [Fact]
    public void TryDecode_EmptyHeaderAndBody_IsAPacket()
    {
        Assert.True(RingFraming.TryDecode([0, 0, 0, 0], out var header, out var body, out _));
        Assert.Equal(new Hdr(), header);
        Assert.True(body.IsEmpty);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0 })]
    [InlineData(new byte[] { 0, 0, 0 })]
    public void TryDecode_ShorterThanPrefix_IsTruncated(byte[] payload)
    {
        AssertRejected(payload, DecodeError.Truncated);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 0, 0 })]
    [InlineData(new byte[] { 3, 0, 0, 0, 0x10, 0x01 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0x01 })]
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x80, 0x10, 0x01 })]
    public void TryDecode_HeaderLengthBeyondPayload_IsHeaderLengthOutOfRange(byte[] payload)
    {
        AssertRejected(payload, DecodeError.HeaderLengthOutOfRange);
    }

    [Theory]
    [InlineData(new byte[] { 3, 0, 0, 0, 0x0A, 0x05, (byte)'a' })] // string field claims 5 bytes, has 1
    [InlineData(new byte[] { 1, 0, 0, 0, 0x00 })]                  // tag with field number 0
    [InlineData(new byte[] { 1, 0, 0, 0, 0x0F })]                  // wire type 7 does not exist
    [InlineData(new byte[] { 2, 0, 0, 0, 0x10, 0x80 })]            // varint cut short
    [InlineData(new byte[] { 11, 0, 0, 0, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })] // varint over 10 bytes
    public void TryDecode_GarbageHeader_IsInvalidHeader(byte[] payload)
    {
        AssertRejected(payload, DecodeError.InvalidHeader);
    }

    [Fact]
    public void TryDecode_InvalidUtf8InBodyType_IsInvalidHeader()
    {
        // proto3 strings must be valid UTF-8; Google.Protobuf refuses them from 3.30 on, as upstream's
        // prost does, and the hand-written fast path refuses them too.
        AssertRejected([4, 0, 0, 0, 0x0A, 0x02, 0xC3, 0x28, 9, 9], DecodeError.InvalidHeader);
    }

    [Fact]
    public void TryDecode_InvalidUtf8InHeaderMapKey_IsInvalidHeader()
    {
        // headers { key: "\xC3(" value: "" }: field 9, an entry with a key of two bytes that are not UTF-8.
        AssertRejected([6, 0, 0, 0, 0x4A, 0x04, 0x0A, 0x02, 0xC3, 0x28], DecodeError.InvalidHeader);
    }

    private static void AssertRejected(byte[] payload, DecodeError expected)
    {
        Assert.False(RingFraming.TryDecode(payload, out var header, out var body, out var error));
        Assert.Equal(expected, error);
        Assert.Null(header);
        Assert.True(body.IsEmpty);

        Assert.False(RingFraming.TryDecodePacket(payload, out var packet, out error));
        Assert.Equal(expected, error);
        Assert.Null(packet);
    }
}
