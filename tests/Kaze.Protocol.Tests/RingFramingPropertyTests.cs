using FsCheck;
using FsCheck.Fluent;
using Kaze.Protocol.Tests.TestSupport;

namespace Kaze.Protocol.Tests;

public sealed class RingFramingPropertyTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(300);

    private static readonly Arbitrary<(Hdr Header, byte[] Body)> Packets =
        Arb.From(Gen.Zip(HeaderGenerators.Header, HeaderGenerators.Body(4096)));

    [Fact]
    public void WriteThenTryDecode_AnyHeaderAndBody_RoundTripsWithoutCopy()
    {
        Check.One(Config, Prop.ForAll(Packets, p =>
        {
            byte[] payload = Frames.Ring(p.Header, p.Body);

            bool ok = RingFraming.TryDecode(payload, out var header, out var body, out var error);

            return ok
                && error == DecodeError.None
                && p.Header.Equals(header)
                && body.SequenceEqual(p.Body)
                && payload.Length == RingFraming.GetPayloadSize(p.Header, p.Body.Length);
        }));
    }

    [Fact]
    public void WriteThenTryDecodePacket_AnyHeaderAndBody_RoundTrips()
    {
        Check.One(Config, Prop.ForAll(Packets, p =>
        {
            byte[] payload = Frames.Ring(p.Header, p.Body);

            bool ok = RingFraming.TryDecodePacket(payload, out var packet, out var error);
            using (packet)
            {
                return ok
                    && error == DecodeError.None
                    && p.Header.Equals(packet!.Header)
                    && packet.BodySpan.SequenceEqual(p.Body);
            }
        }));
    }

    [Fact]
    public void WriteHeader_AnyHeader_EndsWhereWriteWritesTheBody()
    {
        Check.One(Config, Prop.ForAll(Packets, p =>
        {
            byte[] whole = Frames.Ring(p.Header, p.Body);
            var inPlace = new byte[whole.Length];

            int bodyOffset = RingFraming.WriteHeader(inPlace, p.Header);
            p.Body.CopyTo(inPlace, bodyOffset);

            return inPlace.AsSpan().SequenceEqual(whole);
        }));
    }

    [Fact]
    public void WriteWithPayloadSize_AnyHeaderAndBody_GivesTheSameBytesAsWrite()
    {
        Check.One(Config, Prop.ForAll(Packets, p =>
        {
            byte[] whole = Frames.Ring(p.Header, p.Body);
            int size = RingFraming.GetPayloadSize(p.Header, p.Body.Length);
            var sized = new byte[size];

            int written = RingFraming.Write(sized, p.Header, p.Body, size);

            return written == size && sized.AsSpan().SequenceEqual(whole);
        }));
    }

    [Fact]
    public void WriteWithPayloadSize_SizeDoesNotMatchTheHeader_Throws()
    {
        Hdr header = Hdr.CreateNotify(new Ident(7), "echo");
        byte[] body = [1, 2, 3];
        int size = RingFraming.GetPayloadSize(header, body.Length);
        var destination = new byte[size + 8];

        // One byte more than the header needs: the header encodes short, which protobuf refuses.
        Assert.ThrowsAny<InvalidOperationException>(() => RingFraming.Write(destination, header, body, size + 1));
        // One byte less: the header does not fit.
        Assert.ThrowsAny<IOException>(() => RingFraming.Write(destination, header, body, size - 1));
        // Too small to hold even the prefix and the body.
        Assert.Throws<ArgumentOutOfRangeException>(() => RingFraming.Write(destination, header, body, 6));
        // Larger than the destination.
        Assert.Throws<ArgumentException>(() => RingFraming.Write(new byte[size - 1], header, body, size));
    }
}
