using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;

namespace Kaze.Protocol.Tests.TestSupport;

/// <summary>FsCheck generators for headers and bodies that cover every field, both oneofs and the varint edges.</summary>
internal static class HeaderGenerators
{
    private static readonly uint[] EdgeValues = [0u, 1u, 127u, 128u, 255u, 16_383u, 16_384u, 0x7FFF_FFFFu, 0x8000_0000u, uint.MaxValue];

    private static readonly string[] TextPieces = ["a", "Z", "0", ".", "_", " ", "echo.req", "é", "世界", "🙂", "\0", "\n"];

    public static Gen<uint> UInt32 { get; } = Gen.Frequency(
        (3, Gen.Choose(0, 300).Select(i => (uint)i)),
        (2, ArbMap.Default.ArbFor<uint>().Generator),
        (1, Gen.Elements(EdgeValues)));

    /// <summary>Valid UTF-16 text (no lone surrogates): protobuf strings must be valid Unicode.</summary>
    public static Gen<string> Text { get; } =
        Gen.ListOf(Gen.Elements(TextPieces)).Select(pieces => string.Concat(pieces));

    public static Gen<byte[]> SmallBytes { get; } =
        Gen.Choose(0, 40).SelectMany(length => Gen.Choose(0, int.MaxValue).Select(seed => RandomBytes(seed, length)));

    /// <summary>Bodies from empty to a few KiB, biased small.</summary>
    public static Gen<byte[]> Body(int maxLength) => Gen.Frequency(
            (1, Gen.Constant(0)),
            (4, Gen.Choose(1, Math.Min(64, maxLength))),
            (2, Gen.Choose(0, maxLength)))
        .SelectMany(length => Gen.Choose(0, int.MaxValue).Select(seed => RandomBytes(seed, length)));

    public static Gen<Hdr> Header { get; } =
        from bodyType in Text
        from srcIdent in UInt32
        from retCode in UInt32
        from version in UInt32
        from timeout in UInt32
        from rpcKind in Gen.Choose(0, 2)
        from sequence in UInt32
        from headers in Gen.ListOf(Gen.Zip(Text, SmallBytes)).Resize(6)
        from routeKind in Gen.Choose(0, 4)
        from ident in UInt32
        from mask in UInt32
        from multicast in Gen.ArrayOf(UInt32).Resize(8)
        select Build(bodyType, srcIdent, retCode, version, timeout, rpcKind, sequence, headers, routeKind, ident, mask, multicast);

    public static byte[] RandomBytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static Hdr Build(
        string bodyType, uint srcIdent, uint retCode, uint version, uint timeout, int rpcKind, uint sequence,
        IEnumerable<(string Key, byte[] Value)> headers, int routeKind, uint ident, uint mask, uint[] multicast)
    {
        var header = new Hdr { BodyType = bodyType, SrcIdent = srcIdent, RetCode = retCode, Version = version, Timeout = timeout };
        switch (rpcKind)
        {
            case 1: header.Req = sequence; break;
            case 2: header.Rsp = sequence; break;
        }

        foreach (var (key, value) in headers)
        {
            header.Headers[key] = ByteString.CopyFrom(value);
        }

        switch (routeKind)
        {
            case 1: header.DstIdent = ident; break;
            case 2: header.DstRandom = new Hdr.Types.DstMask { Ident = ident, Mask = mask }; break;
            case 3: header.DstBroadcast = new Hdr.Types.DstMask { Ident = ident, Mask = mask }; break;
            case 4:
                header.DstMulticast = new Hdr.Types.DstMulticast();
                header.DstMulticast.DstIdents.Add(multicast);
                break;
        }

        return header;
    }
}
