using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Kaze.Protocol.Tests.TestSupport;

namespace Kaze.Protocol.Tests;

public sealed class TcpFramingPropertyTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(300);

    private static readonly Arbitrary<(Hdr Header, byte[] Body)> Packets =
        Arb.From(Gen.Zip(HeaderGenerators.Header, HeaderGenerators.Body(4096)));

    // Splitting at every boundary costs one decode per byte: keep these frames short.
    private static readonly Arbitrary<(Hdr Header, byte[] Body)> SmallPackets =
        Arb.From(Gen.Zip(HeaderGenerators.Header, HeaderGenerators.Body(256)));

    [Fact]
    public void WriteThenReadFrame_AnyHeaderAndBody_RoundTrips()
    {
        Check.One(Config, Prop.ForAll(Packets, p =>
        {
            byte[] frame = Frames.Tcp(p.Header, p.Body);
            var writer = new ArrayBufferWriter<byte>();
            TcpFraming.Write(writer, p.Header, p.Body);

            var buffer = new ReadOnlySequence<byte>(frame);
            var result = TcpFraming.ReadFrame(buffer);
            using (result.Packet)
            {
                return writer.WrittenSpan.SequenceEqual(frame)
                    && frame.Length == TcpFraming.GetFrameSize(p.Header, p.Body.Length)
                    && SameAs(result, p.Header, p.Body)
                    && buffer.Slice(result.Consumed).IsEmpty;
            }
        }));
    }

    [Fact]
    public void ReadFrame_FrameSplitInTwoAtEveryBoundary_DecodesIdentically()
    {
        Check.One(Config, Prop.ForAll(SmallPackets, p =>
        {
            byte[] frame = Frames.Tcp(p.Header, p.Body);
            for (int cut = 0; cut <= frame.Length; cut++)
            {
                var buffer = Sequences.Split(frame, cut);
                var result = TcpFraming.ReadFrame(buffer);
                using (result.Packet)
                {
                    if (!SameAs(result, p.Header, p.Body) || !buffer.Slice(result.Consumed).IsEmpty)
                    {
                        return false;
                    }
                }
            }

            return true;
        }));
    }

    [Fact]
    public void ReadFrame_FrameInOneBytePerSegmentOrThreeRandomPieces_DecodesIdentically()
    {
        var gen = Gen.Zip(SmallPackets.Generator, Gen.Zip(Gen.Choose(0, 1 << 20), Gen.Choose(0, 1 << 20)));
        Check.One(Config, Prop.ForAll(Arb.From(gen), t =>
        {
            var ((header, body), (a, b)) = t;
            byte[] frame = Frames.Tcp(header, body);
            int first = Math.Min(a, b) % (frame.Length + 1);
            int second = Math.Max(first, Math.Max(a, b) % (frame.Length + 1));

            var bytewise = TcpFraming.ReadFrame(Sequences.OneBytePerSegment(frame));
            var pieces = TcpFraming.ReadFrame(Sequences.Split(frame, first, second));
            using (bytewise.Packet)
            using (pieces.Packet)
            {
                return SameAs(bytewise, header, body) && SameAs(pieces, header, body);
            }
        }));
    }

    [Fact]
    public void ReadFrame_EveryProperPrefix_NeedsMoreDataOrTruncatedAtEnd()
    {
        Check.One(Config, Prop.ForAll(SmallPackets, p =>
        {
            byte[] frame = Frames.Tcp(p.Header, p.Body);
            for (int received = 0; received < frame.Length; received++)
            {
                var prefix = Sequences.Split(frame.AsSpan(0, received), received / 2);
                var open = TcpFraming.ReadFrame(prefix);
                var closed = TcpFraming.ReadFrame(prefix, isCompleted: true);
                var expectedAtEnd = received == 0 ? DecodeError.None : DecodeError.Truncated;
                if (open.Status != TcpFrameStatus.NeedMoreData || open.Packet is not null || closed.Error != expectedAtEnd)
                {
                    return false;
                }
            }

            return true;
        }));
    }

    [Fact]
    public void ReadFrame_StreamOfFramesArrivingInRandomChunks_YieldsEveryPacketInOrder()
    {
        var gen =
            from packets in Gen.NonEmptyListOf(Gen.Zip(HeaderGenerators.Header, HeaderGenerators.Body(512))).Resize(10)
            from maxChunk in Gen.Choose(1, 64)
            from seed in Gen.Choose(0, int.MaxValue)
            select (packets, maxChunk, seed);
        Check.One(Config, Prop.ForAll(Arb.From(gen), t =>
        {
            var (packets, maxChunk, seed) = t;
            byte[] stream = packets.SelectMany(p => Frames.Tcp(p.Item1, p.Item2)).ToArray();
            var random = new Random(seed);
            var received = new List<byte>();
            int sent = 0;
            int next = 0;

            // A pipe's reader loop: take what arrived, decode all whole frames, keep the rest.
            while (sent < stream.Length)
            {
                int chunk = Math.Min(stream.Length - sent, random.Next(1, maxChunk + 1));
                received.AddRange(stream.AsSpan(sent, chunk).ToArray());
                sent += chunk;

                byte[] pending = [.. received];
                var buffer = Sequences.Split(pending, pending.Length / 3, pending.Length * 2 / 3);
                while (true)
                {
                    var result = TcpFraming.ReadFrame(buffer, isCompleted: sent == stream.Length);
                    if (result.Status == TcpFrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    using (result.Packet)
                    {
                        if (next >= packets.Count || !SameAs(result, packets[next].Item1, packets[next].Item2))
                        {
                            return false;
                        }
                    }

                    next++;
                    buffer = buffer.Slice(result.Consumed);
                }

                received.RemoveRange(0, (int)(pending.Length - buffer.Length));
            }

            return next == packets.Count && received.Count == 0;
        }));
    }

    private static bool SameAs(TcpFrameReadResult result, Hdr header, byte[] body) =>
        result.IsComplete
        && result.Error == DecodeError.None
        && header.Equals(result.Packet.Header)
        && result.Packet.BodySpan.SequenceEqual(body);
}
