using Google.Protobuf;

namespace Kaze.Protocol.Tests.Protos;

/// <summary>
/// The wire contract: hand-computed protobuf bytes for known headers. If one of these fails, a field
/// number, a wire type or a oneof's shape changed, and sidecars that speak upstream's kaze.Hdr break.
/// </summary>
public sealed class HdrWireTests
{
    [Fact]
    public void WriteTo_RequestHeader_GivesHandComputedBytes()
    {
        var header = new Hdr
        {
            BodyType = "echo.req",
            SrcIdent = 1,
            Version = 1,
            Timeout = 1000,
            Req = 7,
            DstIdent = 0x01020304,
        };
        header.Headers["k"] = ByteString.CopyFrom(0xFF);

        byte[] expected =
        [
            0x0A, 0x08, (byte)'e', (byte)'c', (byte)'h', (byte)'o', (byte)'.', (byte)'r', (byte)'e', (byte)'q', // 1 bodyType, length-delimited
            0x10, 0x01,                                     // 2 srcIdent = 1, varint
            0x20, 0x01,                                     // 4 version = 1
            0x28, 0xE8, 0x07,                               // 5 timeout = 1000
            0x30, 0x07,                                     // 6 req = 7 (oneof rpcType)
            0x4A, 0x06, 0x0A, 0x01, (byte)'k', 0x12, 0x01, 0xFF, // 9 headers: entry { 1 key "k", 2 value 0xFF }
            0x50, 0x84, 0x86, 0x88, 0x08,                   // 10 dstIdent = 0x01020304 (oneof routeType)
        ];

        Assert.Equal(expected, header.ToByteArray());
        Assert.Equal(header, Hdr.Parser.ParseFrom(expected));
    }

    [Fact]
    public void WriteTo_ResponseWithDstRandom_GivesHandComputedBytes()
    {
        var header = new Hdr
        {
            RetCode = 2,
            Rsp = 7,
            DstRandom = new Hdr.Types.DstMask { Ident = 1, Mask = 0xFF },
        };

        byte[] expected =
        [
            0x18, 0x02,                               // 3 retCode = 2
            0x38, 0x07,                               // 7 rsp = 7 (oneof rpcType)
            0x5A, 0x05, 0x08, 0x01, 0x10, 0xFF, 0x01, // 11 dstRandom { 1 ident = 1, 2 mask = 255 }
        ];

        Assert.Equal(expected, header.ToByteArray());
        Assert.Equal(header, Hdr.Parser.ParseFrom(expected));
    }

    [Fact]
    public void WriteTo_DstBroadcast_IsField12WithMaskMessage()
    {
        var header = new Hdr { DstBroadcast = new Hdr.Types.DstMask { Ident = 3, Mask = 3 } };

        byte[] expected = [0x62, 0x04, 0x08, 0x03, 0x10, 0x03];

        Assert.Equal(expected, header.ToByteArray());
    }

    [Fact]
    public void WriteTo_DstMulticast_IsField13WrappingPackedRepeatedField1()
    {
        var header = new Hdr { DstMulticast = new Hdr.Types.DstMulticast { DstIdents = { 1, 2, 300 } } };

        // 13 dstMulticast { 1 dstIdents packed [1, 2, 300] }
        byte[] expected = [0x6A, 0x06, 0x0A, 0x04, 0x01, 0x02, 0xAC, 0x02];

        Assert.Equal(expected, header.ToByteArray());
    }

    [Fact]
    public void ParseFrom_UnpackedMulticast_IsAccepted()
    {
        // A proto3 reader must accept repeated scalars unpacked too.
        byte[] unpacked = [0x6A, 0x04, 0x08, 0x01, 0x08, 0x02];

        var header = Hdr.Parser.ParseFrom(unpacked);

        Assert.Equal(Hdr.RouteTypeOneofCase.DstMulticast, header.RouteTypeCase);
        Assert.Equal([1u, 2u], header.DstMulticast.DstIdents);
    }

    [Fact]
    public void WriteTo_DefaultHeader_IsEmpty()
    {
        Assert.Empty(new Hdr().ToByteArray());
    }

    [Fact]
    public void WriteTo_OneofSetToZero_KeepsPresence()
    {
        var header = new Hdr { Req = 0, DstIdent = 0 };

        byte[] bytes = header.ToByteArray();

        Assert.Equal([0x30, 0x00, 0x50, 0x00], bytes);
        var parsed = Hdr.Parser.ParseFrom(bytes);
        Assert.Equal(Hdr.RpcTypeOneofCase.Req, parsed.RpcTypeCase);
        Assert.Equal(Hdr.RouteTypeOneofCase.DstIdent, parsed.RouteTypeCase);
    }

    [Fact]
    public void ParseFrom_Field8FromOlderUpstream_IsKeptAsUnknownField()
    {
        // An earlier upstream revision sent `ntf = 8`; it must not break parsing, and is passed through.
        byte[] bytes = [0x40, 0x05, 0x10, 0x01];

        var header = Hdr.Parser.ParseFrom(bytes);

        Assert.Equal(1u, header.SrcIdent);
        Assert.Equal(Hdr.RpcTypeOneofCase.None, header.RpcTypeCase);
        Assert.Equal(bytes.Length, header.CalculateSize());
    }

    [Fact]
    public void Descriptor_MatchesUpstreamNamesAndNumbers()
    {
        var descriptor = Hdr.Descriptor;

        Assert.Equal("kaze.Hdr", descriptor.FullName);
        Assert.Equal("kaze.proto", descriptor.File.Name);
        var fields = descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.Name)).ToArray();
        Assert.Equal(
            [
                (1, "bodyType"), (2, "srcIdent"), (3, "retCode"), (4, "version"), (5, "timeout"),
                (6, "req"), (7, "rsp"), (9, "headers"),
                (10, "dstIdent"), (11, "dstRandom"), (12, "dstBroadcast"), (13, "dstMulticast"),
                (14, "dstName"),
            ],
            fields);
        Assert.Equal(["rpcType", "routeType"], descriptor.Oneofs.Select(o => o.Name));
        Assert.Equal(["req", "rsp"], descriptor.Oneofs[0].Fields.Select(f => f.Name));
        // dstName (14) is Kaze.NET's own, after upstream's: host to its own sidecar only (docs/discovery.md).
        Assert.Equal(["dstIdent", "dstRandom", "dstBroadcast", "dstMulticast", "dstName"], descriptor.Oneofs[1].Fields.Select(f => f.Name));
        Assert.Equal("kaze.Hdr.DstName", Hdr.Types.DstName.Descriptor.FullName);
        Assert.Equal([(1, "name"), (2, "all")], Hdr.Types.DstName.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.Name)));
        Assert.Equal("kaze.Hdr.DstMask", Hdr.Types.DstMask.Descriptor.FullName);
        Assert.Equal("kaze.Hdr.DstMulticast", Hdr.Types.DstMulticast.Descriptor.FullName);
        Assert.True(Hdr.Types.DstMulticast.Descriptor.FindFieldByNumber(1).IsRepeated);
    }
}
