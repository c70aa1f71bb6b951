using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using Kaze.Protocol.Tests.TestSupport;

namespace Kaze.Protocol.Tests;

/// <summary>
/// The hand-written header codec (HdrFastPath.cs) against Google.Protobuf: the same sizes, the same
/// bytes, the same headers read, the same bytes refused.
/// </summary>
public sealed class HdrFastPathTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(2_000);

    // Headers of the shapes the codec writes itself (no headers map, no route but dstIdent), and
    // of every other shape, which it hands to Google.Protobuf.
    private static readonly Gen<Hdr> PlainHeaders =
        from bodyType in Gen.Frequency(
            (3, Gen.Elements("echo.req", "echo.rsp", "", "kaze.exit", "a")),
            (2, HeaderGenerators.Text))
        from srcIdent in HeaderGenerators.UInt32
        from retCode in HeaderGenerators.UInt32
        from version in HeaderGenerators.UInt32
        from timeout in HeaderGenerators.UInt32
        from rpcKind in Gen.Choose(0, 2)
        from sequence in HeaderGenerators.UInt32
        from routed in Gen.Elements(true, false)
        from ident in HeaderGenerators.UInt32
        select Plain(bodyType, srcIdent, retCode, version, timeout, rpcKind, sequence, routed, ident);

    private static readonly Arbitrary<Hdr> AnyHeader = Arb.From(Gen.Frequency((3, PlainHeaders), (2, HeaderGenerators.Header)));

    [Fact]
    public void WireSizeAndWriteWire_AnyHeader_MatchCalculateSizeAndWriteTo()
    {
        Check.One(Config, Prop.ForAll(AnyHeader, header =>
        {
            byte[] expected = header.ToByteArray();
            var written = new byte[header.WireSize()];
            header.WriteWire(written);

            return header.WireSize() == header.CalculateSize() && written.AsSpan().SequenceEqual(expected);
        }));
    }

    [Fact]
    public void TryParse_AnyHeadersBytes_ReadsWhatParseFromReads()
    {
        Check.One(Config, Prop.ForAll(AnyHeader, header =>
        {
            byte[] bytes = header.ToByteArray();

            bool ok = HdrCodec.TryParse(bytes, out Hdr? parsed);

            return ok && parsed!.Equals(header) && parsed.Equals(Hdr.Parser.ParseFrom(bytes));
        }));
    }

    [Fact]
    public void TryMergePlain_PlainHeadersBytes_ReadsThemItself()
    {
        Check.One(Config, Prop.ForAll(Arb.From(PlainHeaders), header =>
        {
            var parsed = new Hdr();

            return parsed.TryMergePlain(header.ToByteArray()) && parsed.Equals(header);
        }));
    }

    [Fact]
    public void TryParse_MutatedBytes_AcceptsAndRefusesExactlyWhatParseFromDoes()
    {
        const int seed = 0x68647277;
        var random = new Random(seed);
        Hdr[] samples = Gen.Frequency((3, PlainHeaders), (1, HeaderGenerators.Header))
            .Sample(size: 20, seed: new Rnd((ulong)seed), numberOfSamples: 200)
            .ToArray();
        int accepted = 0;
        for (int i = 0; i < 50_000; i++)
        {
            byte[] bytes = Mutate(samples[random.Next(samples.Length)].ToByteArray(), random);
            Hdr? expected = ParseFromOrNull(bytes);

            bool ok = HdrCodec.TryParse(bytes, out Hdr? parsed);
            Assert.True(ok == expected is not null, $"seed {seed}, case {i}: {Convert.ToHexString(bytes)}: Google.Protobuf {(expected is null ? "refuses" : "accepts")} it, HdrCodec {(ok ? "accepts" : "refuses")} it");
            if (ok)
            {
                accepted++;
                Assert.True(expected!.Equals(parsed), $"seed {seed}, case {i}: {Convert.ToHexString(bytes)}: read {parsed}, Google.Protobuf reads {expected}");
            }
        }

        // Both outcomes were exercised, not just one.
        Assert.InRange(accepted, 5_000, 45_000);
    }

    [Theory]
    [InlineData("10808080808001", "a six-byte varint (legal: the bits past 32 are dropped)")]
    [InlineData("10FFFFFFFF7F", "a five-byte varint with bits past 32, read by hand")]
    [InlineData("108000", "a varint in two bytes where one would do")]
    [InlineData("500150FFFFFFFF0F", "dstIdent twice: the last wins")]
    [InlineData("1080808080F00F", "a varint whose fifth byte carries bits past 32")]
    [InlineData("9000", "a tag in two bytes")]
    [InlineData("0A03616263", "a plain body type")]
    [InlineData("0A0361", "a body type cut short")]
    [InlineData("0AFFFFFFFF0F", "a body type of 4 GiB")]
    [InlineData("1080", "a varint cut short")]
    [InlineData("30013802", "req, then rsp: the oneof keeps the last")]
    [InlineData("0A01610A0162", "the body type twice: the last wins")]
    [InlineData("0A02C328", "invalid UTF-8 in the body type")]
    [InlineData("00", "tag 0")]
    [InlineData("0C", "an end-group tag")]
    [InlineData("4801", "a field number nobody knows (unknown field kept)")]
    public void TryParse_OddBytes_ReadsWhatParseFromReads(string hex, string what)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Hdr? expected = ParseFromOrNull(bytes);

        bool ok = HdrCodec.TryParse(bytes, out Hdr? parsed);

        Assert.True(ok == expected is not null, $"{what}: Google.Protobuf {(expected is null ? "refuses" : "accepts")} it, HdrCodec {(ok ? "accepts" : "refuses")} it");
        Assert.Equal(expected, parsed);
    }

    [Fact]
    public void WriteWire_LoneSurrogateInBodyType_WritesWhatWriteToWrites()
    {
        var header = new Hdr { BodyType = "a\uD800b", DstIdent = 1 };

        var written = new byte[header.WireSize()];
        header.WriteWire(written);

        Assert.Equal(header.ToByteArray(), written);
    }

    [Fact]
    public void WriteWire_DestinationNotTheEncodedSize_ThrowsWhatWriteToThrows()
    {
        var header = Hdr.CreateRequest(new Ident(5), "echo.req", 1, 100);

        Assert.ThrowsAny<InvalidOperationException>(() => header.WriteWire(new byte[header.WireSize() + 1]));
        Assert.ThrowsAny<IOException>(() => header.WriteWire(new byte[header.WireSize() - 1]));
        Assert.ThrowsAny<IOException>(() => header.WriteWire(new byte[3]));
    }

    [Theory]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(300)]
    public void WriteWireAndTryParse_BodyTypeAtALengthEdge_MatchGoogleProtobuf(int length)
    {
        // 64 bytes: the longest body type cached; 128: the length prefix takes two bytes.
        var header = Hdr.CreateRequest(new Ident(3), new string('x', length - 2) + "é", 9, 100);

        var written = new byte[header.WireSize()];
        header.WriteWire(written);

        Assert.Equal(header.ToByteArray(), written);
        Assert.True(HdrCodec.TryParse(written, out Hdr? parsed));
        Assert.Equal(header, parsed);
    }

    [Fact]
    public void WriteWire_NotPlainHeaderDestinationNotTheEncodedSize_ThrowsWhatWriteToThrows()
    {
        var header = Hdr.CreateRequest(new Ident(5), "echo.req", 1, 100);
        header.Headers["trace"] = ByteString.CopyFromUtf8("abc");

        Assert.ThrowsAny<InvalidOperationException>(() => header.WriteWire(new byte[header.WireSize() + 1]));
        Assert.ThrowsAny<IOException>(() => header.WriteWire(new byte[header.WireSize() - 1]));
    }

    [Fact]
    public void TryParse_ManyThreadsBodyTypesAndIdentsSharingSlots_EachReadAsWritten()
    {
        // Body types that differ in one letter, idents 64 apart (one box slot): threads keep
        // replacing each other's cache entries while they read.
        string[] bodyTypes = ["user.get", "user.set", "kv.get.req", "kv.put.req", "a", "b", "echo.req", "echo.rsp"];
        uint[] idents = [1, 65, 129, 193];
        byte[][] encoded = bodyTypes
            .SelectMany(b => idents.Select(i => Hdr.CreateRequest(new Ident(i), b, i, 100)))
            .Select(h => h.ToByteArray())
            .ToArray();
        Hdr[] expected = encoded.Select(e => Hdr.Parser.ParseFrom(e)).ToArray();
        int mismatches = 0;

        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            for (int n = 0; n < 20_000; n++)
            {
                int k = (n * 7 + worker * 13) % encoded.Length;
                if (!HdrCodec.TryParse(encoded[k], out Hdr? parsed) || !parsed.Equals(expected[k]))
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        });

        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void TryParse_ManyBodyTypesInTurn_EachReadAsWritten()
    {
        // More body types than the cache has slots, read in turns: slots are shared and replaced.
        string[] bodyTypes = Enumerable.Range(0, 500).Select(i => $"svc{i % 37}.m{i}").ToArray();
        for (int round = 0; round < 3; round++)
        {
            foreach (string bodyType in bodyTypes)
            {
                byte[] bytes = Hdr.CreateNotify(new Ident(1), bodyType).ToByteArray();

                Assert.True(HdrCodec.TryParse(bytes, out Hdr? parsed));
                Assert.Equal(bodyType, parsed.BodyType);
            }
        }
    }

    // What Google.Protobuf reads from the bytes, or null if it refuses them.
    private static Hdr? ParseFromOrNull(byte[] bytes)
    {
        try
        {
            return Hdr.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    private static Hdr Plain(string bodyType, uint srcIdent, uint retCode, uint version, uint timeout, int rpcKind, uint sequence, bool routed, uint ident)
    {
        var header = new Hdr { BodyType = bodyType, SrcIdent = srcIdent, RetCode = retCode, Version = version, Timeout = timeout };
        switch (rpcKind)
        {
            case 1: header.Req = sequence; break;
            case 2: header.Rsp = sequence; break;
        }

        if (routed)
        {
            header.DstIdent = ident;
        }

        return header;
    }

    private static byte[] Mutate(byte[] bytes, Random random)
    {
        var list = new List<byte>(bytes);
        int changes = random.Next(1, 4);
        for (int c = 0; c < changes; c++)
        {
            switch (random.Next(5))
            {
                case 0 when list.Count > 0:
                    int at = random.Next(list.Count);
                    list[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when list.Count > 0:
                    list.RemoveRange(random.Next(list.Count), 1);
                    break;
                case 2:
                    list.Insert(random.Next(list.Count + 1), (byte)random.Next(256));
                    break;
                case 3 when list.Count > 0:
                    int cut = random.Next(list.Count);
                    list.RemoveRange(cut, list.Count - cut);
                    break;
                case 4 when list.Count > 0:
                    // A byte from the shapes this codec cares about: tags, varint ends and continuations.
                    list[random.Next(list.Count)] = (byte)random.Next(4) switch
                    {
                        0 => 0x80,
                        1 => 0xFF,
                        2 => (byte)(random.Next(1, 16) << 3 | random.Next(8)),
                        _ => 0x00,
                    };
                    break;
            }
        }

        return list.ToArray();
    }
}
