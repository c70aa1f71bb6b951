using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using System.Text.Unicode;

namespace Kaze.Protocol;

// A hand-written codec for the headers nearly every packet carries: bodyType, the scalar fields,
// req or rsp, and dstIdent; no headers map, no other route, no unknown fields. Google.Protobuf's
// generic reader costs about three times as much per header (the writer a little more), and it
// allocates a new string for the body type of every packet read; the sidecar parses and writes
// every packet's header at every hop. Anything else (and anything odd: a two-byte tag, a varint
// of more than 5 bytes, a truncated field) goes to Google.Protobuf, so the results are the same
// by construction: the bytes written are the ones WriteTo writes, a header read is equal to the
// one MergeFrom reads, and bad input is refused by the same code as before. HdrFastPathTests
// checks both against Google.Protobuf on random headers and on mutated bytes.
public sealed partial class Hdr
{
    // Body types read recently, with their UTF-8 bytes: a packet's body type is usually one of a
    // few, so the string is taken from here instead of being decoded anew. Entries are immutable
    // and replaced whole, so readers on any thread see an entry or its successor, never a mix.
    private static readonly BodyTypeEntry?[] s_bodyTypes = new BodyTypeEntry?[128];

    // Boxed destination idents, by their low bits.
    private static readonly object?[] s_identBoxes = new object?[64];

    // Longer body types are decoded each time: they are rare, and the cache stays small.
    private const int MaxCachedBodyTypeBytes = 64;

    private const byte TagBodyType = (1 << 3) | 2;
    private const byte TagSrcIdent = 2 << 3;
    private const byte TagRetCode = 3 << 3;
    private const byte TagVersion = 4 << 3;
    private const byte TagTimeout = 5 << 3;
    private const byte TagReq = 6 << 3;
    private const byte TagRsp = 7 << 3;
    private const byte TagDstIdent = 10 << 3;

    /// <summary>True if this header has nothing but the fields the hand-written codec writes.</summary>
    private bool IsPlain =>
        headers_.Count == 0
        && _unknownFields is null
        && routeTypeCase_ is RouteTypeOneofCase.None or RouteTypeOneofCase.DstIdent;

    /// <summary>The encoded size: the same number as <c>CalculateSize</c>, faster for plain headers.</summary>
    internal int WireSize()
    {
        if (!IsPlain)
        {
            return CalculateSize();
        }

        int size = 0;
        if (bodyType_.Length != 0)
        {
            int bytes = Encoding.UTF8.GetByteCount(bodyType_);
            size += 1 + VarintSize((uint)bytes) + bytes;
        }

        size += FieldSize(srcIdent_) + FieldSize(retCode_) + FieldSize(version_) + FieldSize(timeout_);
        if (rpcTypeCase_ != RpcTypeOneofCase.None)
        {
            size += 1 + VarintSize((uint)rpcType_);
        }

        if (routeTypeCase_ == RouteTypeOneofCase.DstIdent)
        {
            size += 1 + VarintSize((uint)routeType_);
        }

        return size;
    }

    /// <summary>
    /// Writes the header into exactly <paramref name="destination"/>, which must be
    /// <see cref="WireSize"/> bytes long; the bytes are those <c>WriteTo</c> writes.
    /// </summary>
    /// <exception cref="IOException"><paramref name="destination"/> is shorter than the encoded size.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="destination"/> is longer than the encoded size.</exception>
    internal void WriteWire(Span<byte> destination)
    {
        if (!IsPlain)
        {
            Google.Protobuf.MessageExtensions.WriteTo(this, destination);
            return;
        }

        int at;
        try
        {
            at = WritePlain(destination);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException)
        {
            // The span is shorter than the header (Encoding throws ArgumentException for that).
            at = -1;
        }

        if (at != destination.Length)
        {
            // Not the encoded size: Google.Protobuf writes it again and throws what WriteTo(Span)
            // throws (an IOException when the span is short, InvalidOperationException when long).
            Google.Protobuf.MessageExtensions.WriteTo(this, destination);
        }
    }

    private int WritePlain(Span<byte> destination)
    {
        int at = 0;
        if (bodyType_.Length != 0)
        {
            int bytes = Encoding.UTF8.GetByteCount(bodyType_);
            destination[at++] = TagBodyType;
            at += WriteVarint(destination[at..], (uint)bytes);
            at += Encoding.UTF8.GetBytes(bodyType_, destination[at..]);
        }

        at += WriteField(destination[at..], TagSrcIdent, srcIdent_);
        at += WriteField(destination[at..], TagRetCode, retCode_);
        at += WriteField(destination[at..], TagVersion, version_);
        at += WriteField(destination[at..], TagTimeout, timeout_);
        if (rpcTypeCase_ != RpcTypeOneofCase.None)
        {
            destination[at++] = rpcTypeCase_ == RpcTypeOneofCase.Req ? TagReq : TagRsp;
            at += WriteVarint(destination[at..], (uint)rpcType_);
        }

        if (routeTypeCase_ == RouteTypeOneofCase.DstIdent)
        {
            destination[at++] = TagDstIdent;
            at += WriteVarint(destination[at..], (uint)routeType_);
        }

        return at;
    }

    /// <summary>
    /// Parses a plain header (see the top of this file) into this one, which must be clear.
    /// False if <paramref name="bytes"/> hold anything else: the caller then clears the header and
    /// lets Google.Protobuf parse (or refuse) them.
    /// </summary>
    internal bool TryMergePlain(ReadOnlySpan<byte> bytes)
    {
        int at = 0;
        while (at < bytes.Length)
        {
            byte tag = bytes[at++];
            if (tag == TagBodyType)
            {
                if (!TryReadVarint(bytes, ref at, out uint length) || length > (uint)(bytes.Length - at))
                {
                    return false;
                }

                string? bodyType = BodyTypeOf(bytes.Slice(at, (int)length));
                if (bodyType is null)
                {
                    // Not valid UTF-8: Google.Protobuf (3.30 and later) refuses it, as proto3 requires.
                    return false;
                }

                bodyType_ = bodyType;
                at += (int)length;
                continue;
            }

            if (!TryReadVarint(bytes, ref at, out uint value))
            {
                return false;
            }

            switch (tag)
            {
                case TagSrcIdent:
                    srcIdent_ = value;
                    break;
                case TagRetCode:
                    retCode_ = value;
                    break;
                case TagVersion:
                    version_ = value;
                    break;
                case TagTimeout:
                    timeout_ = value;
                    break;
                case TagReq:
                    Req = value;
                    break;
                case TagRsp:
                    Rsp = value;
                    break;
                case TagDstIdent:
                    // The oneof holds its value boxed; a node sees few destinations, so the box is shared.
                    routeType_ = BoxedIdent(value);
                    routeTypeCase_ = RouteTypeOneofCase.DstIdent;
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    private static object BoxedIdent(uint value)
    {
        // A boxed uint never changes, so one box can stand in any number of headers.
        ref object? slot = ref s_identBoxes[value & (uint)(s_identBoxes.Length - 1)];
        object? box = Volatile.Read(ref slot);
        if (box is uint cached && cached == value)
        {
            return box;
        }

        box = value;
        Volatile.Write(ref slot, box);
        return box;
    }

    // Null when the bytes are not valid UTF-8. Only valid strings enter the cache, so a hit needs no check.
    private static string? BodyTypeOf(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return "";
        }

        if (utf8.Length > MaxCachedBodyTypeBytes)
        {
            return Utf8.IsValid(utf8) ? Encoding.UTF8.GetString(utf8) : null;
        }

        int slot = (int)(SlotHash(utf8) >> 57) & (s_bodyTypes.Length - 1);
        BodyTypeEntry? entry = Volatile.Read(ref s_bodyTypes[slot]);
        if (entry is not null && utf8.SequenceEqual(entry.Utf8))
        {
            return entry.Value;
        }

        if (!Utf8.IsValid(utf8))
        {
            return null;
        }

        string value = Encoding.UTF8.GetString(utf8);
        Volatile.Write(ref s_bodyTypes[slot], new BodyTypeEntry(utf8.ToArray(), value));
        return value;
    }

    // The first, middle and last 8 bytes (all of them up to 24) and the length, mixed: names that
    // differ in one letter ("user.get", "user.set") land apart. A hash of the ends alone sent such
    // pairs to one slot, where two alternating body types evict each other at every packet.
    private static ulong SlotHash(ReadOnlySpan<byte> utf8)
    {
        const ulong K = 0x9E3779B97F4A7C15;
        if (utf8.Length < sizeof(ulong))
        {
            ulong small = (ulong)utf8.Length;
            foreach (byte b in utf8)
            {
                small = (small << 8) | b;
            }

            return small * K;
        }

        ulong first = BinaryPrimitives.ReadUInt64LittleEndian(utf8);
        ulong middle = BinaryPrimitives.ReadUInt64LittleEndian(utf8[((utf8.Length / 2) - 4)..]);
        ulong last = BinaryPrimitives.ReadUInt64LittleEndian(utf8[^sizeof(ulong)..]);
        ulong h = (first * K) ^ (ulong)utf8.Length;
        h = (BitOperations.RotateLeft(h, 23) ^ middle) * K;
        return (BitOperations.RotateLeft(h, 29) ^ last) * K;
    }

    private static int FieldSize(uint value) => value == 0 ? 0 : 1 + VarintSize(value);

    private static int VarintSize(uint value) => value switch
    {
        < 1u << 7 => 1,
        < 1u << 14 => 2,
        < 1u << 21 => 3,
        < 1u << 28 => 4,
        _ => 5,
    };

    private static int WriteField(Span<byte> destination, byte tag, uint value)
    {
        if (value == 0)
        {
            return 0;
        }

        destination[0] = tag;
        return 1 + WriteVarint(destination[1..], value);
    }

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        int at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at;
    }

    // A varint of at most 5 bytes whose last byte ends it; the bits past 32 dropped, as
    // Google.Protobuf drops them. Longer ones (legal, if odd) go to Google.Protobuf.
    private static bool TryReadVarint(ReadOnlySpan<byte> bytes, ref int at, out uint value)
    {
        value = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            if (at >= bytes.Length)
            {
                return false;
            }

            byte b = bytes[at++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private sealed record BodyTypeEntry(byte[] Utf8, string Value);
}
