using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace Kaze.Protocol;

/// <summary>
/// A packet as a frame on a TCP connection between sidecars: a total length, then the same bytes as a
/// ring payload (<see cref="RingFraming"/>). The same framing as starwing/kaze.
/// </summary>
/// <remarks>
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Total Length T = 4 + H + B (32, little-endian)       |  TotalLengthOffset = 0
/// +---------------------------------------------------------------+
/// |              Header Length H (32, little-endian)              |  HeaderLengthOffset = 4
/// +---------------------------------------------------------------+
/// |              Header (H bytes, protobuf kaze.Hdr) ...          |  HeaderOffset = 8
/// +---------------------------------------------------------------+
/// |              Body (B bytes) ...                               |  HeaderOffset + H
/// +---------------------------------------------------------------+
/// </code>
/// A frame occupies 4 + T bytes. T counts the header length field but not itself, so T is at least 4.
/// <para>
/// <see cref="ReadFrame"/> is incremental and stateless: give it everything received so far, as
/// System.IO.Pipelines hands it over. It rejects a frame whose T is over the maximum as soon as
/// T has arrived, and allocates only for a frame that has fully arrived and is within the limit.
/// It never throws on bad bytes.
/// </para>
/// </remarks>
public static class TcpFraming
{
    internal const int TotalLengthOffset = 0;
    internal const int TotalLengthSize = sizeof(uint);
    internal const int HeaderLengthOffset = TotalLengthOffset + TotalLengthSize;
    internal const int HeaderLengthSize = sizeof(uint);
    internal const int HeaderOffset = HeaderLengthOffset + HeaderLengthSize;

    /// <summary>The bytes before the header: the total length and the header length fields (8).</summary>
    public const int PrefixSize = HeaderOffset;

    /// <summary>The smallest valid total length: a frame with an empty header and an empty body (4).</summary>
    public const int MinTotalLength = HeaderLengthSize;

    /// <summary>The default limit on a frame's total length: 16 MiB.</summary>
    public const int DefaultMaxFrameSize = 16 * 1024 * 1024;

    /// <summary>The largest limit <see cref="ReadFrame"/> accepts, so that a whole frame fits in an int.</summary>
    public const int MaxSupportedFrameSize = int.MaxValue - TotalLengthSize;

    /// <summary>The size of the frame that <see cref="Write(Span{byte}, Hdr, ReadOnlySpan{byte})"/> produces.</summary>
    /// <param name="header">The header; its encoded size is computed now, so do not change it before writing.</param>
    /// <param name="bodyLength">The body's length in bytes.</param>
    /// <returns>8 + the header's encoded size + <paramref name="bodyLength"/>.</returns>
    /// <exception cref="ArgumentException">The frame would be over <see cref="int.MaxValue"/> bytes.</exception>
    public static int GetFrameSize(Hdr header, int bodyLength)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        return RingFraming.CheckedSize(PrefixSize + (long)header.WireSize() + bodyLength);
    }

    /// <summary>Writes one frame at the start of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="GetFrameSize"/> bytes.</param>
    /// <param name="header">The header.</param>
    /// <param name="body">The body.</param>
    /// <returns>The bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, or the frame would be over 2 GiB.</exception>
    public static int Write(Span<byte> destination, Hdr header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        int headerLength = header.WireSize();
        int size = RingFraming.CheckedSize(PrefixSize + (long)headerLength + body.Length);
        if (destination.Length < size)
        {
            ThrowHelper.ThrowDestinationTooSmall(nameof(destination), size, destination.Length);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination[TotalLengthOffset..], (uint)(size - TotalLengthSize));
        RingFraming.WriteCore(destination[HeaderLengthOffset..], header, headerLength, body);
        return size;
    }

    /// <summary>Writes one frame to <paramref name="writer"/>, e.g. a PipeWriter.</summary>
    /// <param name="writer">Where to write; the body is copied in chunks of the sizes the writer offers.</param>
    /// <param name="header">The header.</param>
    /// <param name="body">The body.</param>
    /// <returns>The bytes written.</returns>
    /// <exception cref="ArgumentException">The frame would be over 2 GiB.</exception>
    public static int Write(IBufferWriter<byte> writer, Hdr header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(header);
        int headerLength = header.WireSize();
        int size = RingFraming.CheckedSize(PrefixSize + (long)headerLength + body.Length);

        // Only the prefix and the header need one contiguous span; a large body must not make the
        // writer allocate one huge segment.
        int head = PrefixSize + headerLength;
        Span<byte> span = writer.GetSpan(head);
        BinaryPrimitives.WriteUInt32LittleEndian(span[TotalLengthOffset..], (uint)(size - TotalLengthSize));
        BinaryPrimitives.WriteUInt32LittleEndian(span[HeaderLengthOffset..], (uint)headerLength);
        header.WriteWire(span.Slice(HeaderOffset, headerLength));
        writer.Advance(head);
        if (!body.IsEmpty)
        {
            writer.Write(body);
        }

        return size;
    }

    /// <summary>Writes <paramref name="packet"/> as one frame to <paramref name="writer"/>.</summary>
    /// <param name="writer">Where to write.</param>
    /// <param name="packet">The packet; it is not disposed.</param>
    /// <returns>The bytes written.</returns>
    public static int Write(IBufferWriter<byte> writer, Packet packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        return Write(writer, packet.Header, packet.BodySpan);
    }

    /// <summary>Reads the first frame in <paramref name="buffer"/>, if it has fully arrived.</summary>
    /// <param name="buffer">Everything received and not yet consumed; frames may span segments.</param>
    /// <param name="maxFrameSize">
    /// The largest total length accepted; a frame declaring more is <see cref="TcpFrameStatus.Invalid"/>
    /// as soon as its first 4 bytes arrive. Default <see cref="DefaultMaxFrameSize"/> (16 MiB).
    /// </param>
    /// <param name="isCompleted">
    /// True if no more data will come (the peer closed): a partial frame is then
    /// <see cref="DecodeError.Truncated"/> instead of <see cref="TcpFrameStatus.NeedMoreData"/>.
    /// An empty buffer is always NeedMoreData.
    /// </param>
    /// <returns>
    /// Complete with a packet (the caller owns and disposes it) and the position after the frame;
    /// NeedMoreData; or Invalid with the error, after which the connection cannot be resynchronised.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="maxFrameSize"/> is below <see cref="MinTotalLength"/> or above <see cref="MaxSupportedFrameSize"/>.
    /// </exception>
    public static TcpFrameReadResult ReadFrame(in ReadOnlySequence<byte> buffer, int maxFrameSize = DefaultMaxFrameSize, bool isCompleted = false)
    {
        if (maxFrameSize is < MinTotalLength or > MaxSupportedFrameSize)
        {
            ThrowHelper.ThrowArgumentOutOfRange(
                nameof(maxFrameSize),
                $"The maximum frame size must be between {MinTotalLength} and {MaxSupportedFrameSize}.");
        }

        long available = buffer.Length;
        if (available < TotalLengthSize)
        {
            return NotYet(available, isCompleted);
        }

        Span<byte> prefix = stackalloc byte[PrefixSize];
        int prefixLength = available < PrefixSize ? (int)available : PrefixSize;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= prefixLength)
        {
            first[..prefixLength].CopyTo(prefix);
        }
        else
        {
            buffer.Slice(0, prefixLength).CopyTo(prefix);
        }

        // Lengths are read as uint and compared as uint or long: a top bit set must not turn them negative.
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(prefix[TotalLengthOffset..]);
        if (total < MinTotalLength)
        {
            return TcpFrameReadResult.Invalid(DecodeError.FrameLengthTooSmall);
        }

        if (total > (uint)maxFrameSize)
        {
            return TcpFrameReadResult.Invalid(DecodeError.FrameTooLarge);
        }

        if (prefixLength < PrefixSize)
        {
            return NotYet(available, isCompleted);
        }

        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[HeaderLengthOffset..]);
        if (headerLength > total - HeaderLengthSize)
        {
            return TcpFrameReadResult.Invalid(DecodeError.HeaderLengthOutOfRange);
        }

        long frameLength = TotalLengthSize + (long)total;
        if (available < frameLength)
        {
            return NotYet(available, isCompleted);
        }

        if (!HdrCodec.TryParse(buffer.Slice(HeaderOffset, headerLength), out var header))
        {
            return TcpFrameReadResult.Invalid(DecodeError.InvalidHeader);
        }

        long bodyOffset = HeaderOffset + (long)headerLength;
        var packet = Packet.Create(header, buffer.Slice(bodyOffset, frameLength - bodyOffset));
        return TcpFrameReadResult.Complete(packet, buffer.GetPosition(frameLength));
    }

    private static TcpFrameReadResult NotYet(long available, bool isCompleted) =>
        isCompleted && available > 0
            ? TcpFrameReadResult.Invalid(DecodeError.Truncated)
            : TcpFrameReadResult.NeedMoreData;
}
