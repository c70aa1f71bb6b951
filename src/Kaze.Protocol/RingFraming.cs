using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;

namespace Kaze.Protocol;

/// <summary>
/// A packet as the payload of one record on a shared-memory ring: the header's length, the header, and
/// the body, which is the rest of the payload.
/// </summary>
/// <remarks>
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Header Length H (32, little-endian)              |  HeaderLengthOffset = 0
/// +---------------------------------------------------------------+
/// |              Header (H bytes, protobuf kaze.Hdr) ...          |  HeaderOffset = 4
/// +---------------------------------------------------------------+
/// |              Body (the rest of the payload) ...               |  HeaderOffset + H
/// +---------------------------------------------------------------+
/// </code>
/// The ring's own record length (see Kaze.Core) delimits the payload; there is no body length here.
/// The payload is byte for byte what follows the first 4 bytes of a <see cref="TcpFraming"/> frame.
/// <para>
/// Writing is zero copy: ask <see cref="GetPayloadSize"/>, claim exactly that many bytes in the ring,
/// <see cref="Write(Span{byte}, Hdr, ReadOnlySpan{byte})"/> into the claimed span (or <see cref="WriteHeader"/> and write the body yourself),
/// commit. Decoding never throws on bad bytes: it returns a <see cref="DecodeError"/>.
/// </para>
/// </remarks>
public static class RingFraming
{
    internal const int HeaderLengthOffset = 0;
    internal const int HeaderLengthSize = sizeof(uint);
    internal const int HeaderOffset = HeaderLengthOffset + HeaderLengthSize;

    /// <summary>The bytes before the header: the header length field (4).</summary>
    public const int PrefixSize = HeaderOffset;

    /// <summary>The size of the payload that <see cref="Write(Span{byte}, Hdr, ReadOnlySpan{byte})"/> produces.</summary>
    /// <param name="header">The header; its encoded size is computed now, so do not change it before writing.</param>
    /// <param name="bodyLength">The body's length in bytes.</param>
    /// <returns>4 + the header's encoded size + <paramref name="bodyLength"/>.</returns>
    /// <exception cref="ArgumentException">The payload would be over <see cref="int.MaxValue"/> bytes.</exception>
    public static int GetPayloadSize(Hdr header, int bodyLength)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        return CheckedSize(PrefixSize + (long)header.WireSize() + bodyLength);
    }

    /// <summary>Writes a whole payload (header length, header, body) at the start of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="GetPayloadSize"/> bytes, e.g. space claimed in a ring.</param>
    /// <param name="header">The header.</param>
    /// <param name="body">The body.</param>
    /// <returns>
    /// The bytes written. The body is "the rest of the payload", so the record must be exactly this long:
    /// commit this many bytes, not the whole destination.
    /// </returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public static int Write(Span<byte> destination, Hdr header, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(header);
        int headerLength = header.WireSize();
        int size = CheckedSize(PrefixSize + (long)headerLength + body.Length);
        if (destination.Length < size)
        {
            ThrowHelper.ThrowDestinationTooSmall(nameof(destination), size, destination.Length);
        }

        WriteCore(destination, header, headerLength, body);
        return size;
    }

    /// <summary>
    /// Writes a whole payload whose size <see cref="GetPayloadSize"/> has already computed, sparing a
    /// second pass over the header (the hot path: ask the size, claim it, write).
    /// </summary>
    /// <param name="destination">At least <paramref name="payloadSize"/> bytes.</param>
    /// <param name="header">The header, unchanged since its size was computed.</param>
    /// <param name="body">The body.</param>
    /// <param name="payloadSize">What <see cref="GetPayloadSize"/> returned for this header and a body of this length.</param>
    /// <returns><paramref name="payloadSize"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, or <paramref name="payloadSize"/> cannot hold the prefix and the body.</exception>
    /// <exception cref="InvalidOperationException">The header encodes to fewer bytes than <paramref name="payloadSize"/> leaves for it (it changed, or the size is wrong); nothing usable was written.</exception>
    /// <exception cref="IOException">The header encodes to more bytes than that (Google.Protobuf's out-of-space exception); nothing usable was written.</exception>
    public static int Write(Span<byte> destination, Hdr header, ReadOnlySpan<byte> body, int payloadSize)
    {
        ArgumentNullException.ThrowIfNull(header);
        int headerLength = payloadSize - PrefixSize - body.Length;
        if (headerLength < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadSize), payloadSize, $"A payload of {payloadSize} bytes cannot hold the {PrefixSize}-byte prefix and a {body.Length}-byte body.");
        }

        if (destination.Length < payloadSize)
        {
            ThrowHelper.ThrowDestinationTooSmall(nameof(destination), payloadSize, destination.Length);
        }

        // WriteWire, like WriteTo(Span), throws unless the header encodes to exactly headerLength bytes.
        WriteCore(destination, header, headerLength, body);
        return payloadSize;
    }

    /// <summary>
    /// Writes the header length and the header, so the caller can write the body in place right after them.
    /// </summary>
    /// <param name="destination">Space for the prefix, the header and the body that will follow.</param>
    /// <param name="header">The header.</param>
    /// <returns>Where the body starts: 4 + the header's encoded size.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> cannot hold the prefix and the header.</exception>
    public static int WriteHeader(Span<byte> destination, Hdr header)
    {
        ArgumentNullException.ThrowIfNull(header);
        int headerLength = header.WireSize();
        int size = PrefixSize + headerLength;
        if (destination.Length < size)
        {
            ThrowHelper.ThrowDestinationTooSmall(nameof(destination), size, destination.Length);
        }

        WriteCore(destination, header, headerLength, default);
        return size;
    }

    /// <summary>Decodes a payload into its header and a slice of it holding the body, without copying the body.</summary>
    /// <param name="payload">One whole record payload.</param>
    /// <param name="header">The decoded header, or null on error.</param>
    /// <param name="body">The body: a slice of <paramref name="payload"/>; empty on error.</param>
    /// <param name="error"><see cref="DecodeError.None"/>, or why the payload is not a packet.</param>
    /// <returns>True if the payload is a packet.</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Hdr? header, out ReadOnlySpan<byte> body, out DecodeError error)
    {
        var parsed = new Hdr();
        bool ok = TryDecodeInto(payload, parsed, out body, out error);
        header = ok ? parsed : null;
        return ok;
    }

    /// <summary>
    /// Decodes a payload into <paramref name="header"/>, an instance the caller reuses (see
    /// <see cref="Hdr.Clear"/>), and a slice of the payload holding the body: no allocation but the
    /// header's strings.
    /// </summary>
    /// <param name="payload">One whole record payload.</param>
    /// <param name="header">Cleared, then filled; on error its fields are unspecified.</param>
    /// <param name="body">The body: a slice of <paramref name="payload"/>; empty on error.</param>
    /// <param name="error"><see cref="DecodeError.None"/>, or why the payload is not a packet.</param>
    /// <returns>True if the payload is a packet.</returns>
    public static bool TryDecodeInto(ReadOnlySpan<byte> payload, Hdr header, out ReadOnlySpan<byte> body, out DecodeError error)
    {
        ArgumentNullException.ThrowIfNull(header);
        body = default;
        if (payload.Length < PrefixSize)
        {
            error = DecodeError.Truncated;
            return false;
        }

        // Read as uint and compared as uint: a length with the top bit set must not turn negative.
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(payload[HeaderLengthOffset..]);
        if (headerLength > (uint)(payload.Length - PrefixSize))
        {
            error = DecodeError.HeaderLengthOutOfRange;
            return false;
        }

        if (!HdrCodec.TryParseInto(payload.Slice(HeaderOffset, (int)headerLength), header))
        {
            error = DecodeError.InvalidHeader;
            return false;
        }

        body = payload[(HeaderOffset + (int)headerLength)..];
        error = DecodeError.None;
        return true;
    }

    /// <summary>Decodes a payload into a <see cref="Packet"/>, copying the body into pooled memory.</summary>
    /// <param name="payload">One whole record payload; it may be released as soon as this returns.</param>
    /// <param name="packet">The packet, which the caller owns and disposes; null on error.</param>
    /// <param name="error"><see cref="DecodeError.None"/>, or why the payload is not a packet.</param>
    /// <returns>True if the payload is a packet.</returns>
    public static bool TryDecodePacket(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out Packet? packet, out DecodeError error)
    {
        if (!TryDecode(payload, out var header, out var body, out error))
        {
            packet = null;
            return false;
        }

        packet = Packet.Create(header, body);
        return true;
    }

    // destination holds at least PrefixSize + headerLength + body.Length bytes.
    internal static void WriteCore(Span<byte> destination, Hdr header, int headerLength, ReadOnlySpan<byte> body)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[HeaderLengthOffset..], (uint)headerLength);
        // WriteWire, like WriteTo(Span), demands a span of exactly the encoded size.
        header.WriteWire(destination.Slice(HeaderOffset, headerLength));
        body.CopyTo(destination[(HeaderOffset + headerLength)..]);
    }

    internal static int CheckedSize(long size)
    {
        if (size > int.MaxValue)
        {
            ThrowHelper.ThrowTooLarge("body", size);
        }

        return (int)size;
    }
}
