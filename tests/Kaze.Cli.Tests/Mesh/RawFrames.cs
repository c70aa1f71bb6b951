using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// TCP frames between sidecars, written by hand from the contract (docs/architecture.md: frame
/// <c>[u32 LE total = 4 + H + B][u32 LE H][protobuf kaze.Hdr][body]</c>; the hello of
/// src/Kaze.Mesh/Connections/Handshake.cs): these tests reference none of kaze's code, so the wire
/// format is checked from outside too.
/// </summary>
internal static class RawFrames
{
    // kaze.Hdr field numbers (src/Kaze.Protocol/Protos/kaze.proto).
    private const int BodyType = 1;
    private const int SrcIdent = 2;
    private const int Version = 4;
    private const int Timeout = 5;
    private const int Req = 6;
    private const int Headers = 9;
    private const int DstIdent = 10;

    /// <summary>The largest frame this peer says it receives: kaze's default, 16 MiB.</summary>
    public const uint MaxFrame = 16 * 1024 * 1024;

    /// <summary>One frame around a header and a body.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> header, ReadOnlySpan<byte> body)
    {
        byte[] frame = new byte[8 + header.Length + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(4 + header.Length + body.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)header.Length);
        header.CopyTo(frame.AsSpan(8));
        body.CopyTo(frame.AsSpan(8 + header.Length));
        return frame;
    }

    /// <summary>A hello without a shared secret: body type kaze.hello, the ident, version 1, "max-frame" and a 16-byte "nonce".</summary>
    public static byte[] Hello(uint ident)
    {
        byte[] maxFrame = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(maxFrame, MaxFrame);
        var header = new ProtoWriter();
        header.String(BodyType, "kaze.hello");
        header.UInt32(SrcIdent, ident);
        header.UInt32(Version, 1);
        header.MapEntry(Headers, "max-frame", maxFrame);
        header.MapEntry(Headers, "nonce", RandomNumberGenerator.GetBytes(16));
        return Frame(header.ToArray(), []);
    }

    /// <summary>An "echo" request from <paramref name="from"/> to 0.0.0.0 (the host of the sidecar that reads it).</summary>
    public static byte[] EchoRequest(uint from, uint sequence, ReadOnlySpan<byte> body)
    {
        var header = new ProtoWriter();
        header.String(BodyType, "echo");
        header.UInt32(SrcIdent, from);
        header.UInt32(Version, 1);
        header.UInt32(Timeout, 5000);
        header.UInt32(Req, sequence);
        header.UInt32(DstIdent, 0); // written although 0: it selects the oneof's case
        return Frame(header.ToArray(), body);
    }

    /// <summary>A frame whose body type is <paramref name="bodyType"/> and nothing else.</summary>
    public static byte[] Notify(string bodyType)
    {
        var header = new ProtoWriter();
        header.String(BodyType, bodyType);
        header.UInt32(Version, 1);
        return Frame(header.ToArray(), []);
    }

    /// <summary>Minimal protobuf encoding: varints, length-delimited fields, map entries.</summary>
    private sealed class ProtoWriter
    {
        private readonly List<byte> _bytes = [];

        public void UInt32(int field, uint value)
        {
            Tag(field, 0);
            Varint(value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, 2);
            Varint((uint)value.Length);
            _bytes.AddRange(value);
        }

        public void MapEntry(int field, string key, ReadOnlySpan<byte> value)
        {
            var entry = new ProtoWriter();
            entry.String(1, key);
            entry.Bytes(2, value);
            Bytes(field, entry.ToArray());
        }

        public byte[] ToArray() => [.. _bytes];

        private void Tag(int field, int wireType) => Varint((uint)((field << 3) | wireType));

        private void Varint(uint value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.Add((byte)value);
        }
    }
}
