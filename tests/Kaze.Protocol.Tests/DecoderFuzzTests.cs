using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Kaze.Protocol.Tests.TestSupport;
using Xunit.Abstractions;

namespace Kaze.Protocol.Tests;

/// <summary>
/// Random and mutated frames fed to both decoders: no exception may escape, and every result must be
/// either a well-formed packet or an error. Deterministic: the seed is fixed and printed.
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;
    private const int Seed = 0x6B617A65;

    private static readonly uint[] ExtremeLengths =
    [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000,
        TcpFraming.DefaultMaxFrameSize - 1, TcpFraming.DefaultMaxFrameSize, TcpFraming.DefaultMaxFrameSize + 1,
        int.MaxValue - 4, int.MaxValue - 3, int.MaxValue, 0x8000_0000, uint.MaxValue - 1, uint.MaxValue,
    ];

    private static readonly string[] ErrorNames = Enum.GetNames<DecodeError>().Select(n => "tcp " + n).ToArray();

    private static readonly string[] RingNames = Enum.GetNames<DecodeError>().Select(n => "ring " + n).ToArray();

    private enum Mutation
    {
        None,
        FlipBits,
        InsertBytes,
        DeleteBytes,
        OverwriteTotal,
        OverwriteHeaderLength,
        Truncate,
        RandomBytes,
        TwoFramesFlipped,
        ScrambleHeader,
    }

    [Fact]
    public void Decoders_RandomAndMutatedFrames_NeverThrowAndGivePacketOrError()
    {
        var random = new Random(Seed);
        var seeds = Gen.Zip(HeaderGenerators.Header, HeaderGenerators.Body(300))
            .Sample(size: 20, seed: new Rnd((ulong)Seed), numberOfSamples: 256)
            .Select(p => Frames.Tcp(p.Item1, p.Item2))
            .ToArray();
        var outcomes = new Dictionary<string, int>();
        var mutations = Enum.GetValues<Mutation>();
        var stopwatch = Stopwatch.StartNew();

        for (int i = 0; i < Iterations; i++)
        {
            var mutation = mutations[random.Next(mutations.Length)];
            byte[] data = Mutate(mutation, seeds, random);
            int maxFrameSize = random.Next(4) == 0 ? random.Next(TcpFraming.MinTotalLength, 512) : TcpFraming.DefaultMaxFrameSize;
            bool isCompleted = random.Next(2) == 0;
            bool split = random.Next(8) == 0 && data.Length > 1;
            try
            {
                var buffer = split ? Sequences.Split(data, random.Next(1, data.Length)) : new ReadOnlySequence<byte>(data);
                Count(outcomes, CheckTcp(data, buffer, maxFrameSize, isCompleted, reencode: i % 4 == 0));
                Count(outcomes, CheckRing(data.Length >= 4 ? data.AsSpan(4) : data));
                Count(outcomes, CheckRing(data));
            }
            catch (Exception e)
            {
                Assert.Fail(
                    $"Iteration {i} ({mutation}, max {maxFrameSize}, completed {isCompleted}, split {split}) " +
                    $"on {Convert.ToHexString(data)}: {e}");
            }
        }

        stopwatch.Stop();
        output.WriteLine($"{Iterations} inputs, seed {Seed}, {stopwatch.ElapsedMilliseconds} ms");
        foreach (var (outcome, count) in outcomes.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{outcome,-36} {count,7}");
        }

        // The fuzzing reached every kind of outcome, so the checks above were not vacuous.
        foreach (var error in new[] { DecodeError.Truncated, DecodeError.FrameLengthTooSmall, DecodeError.FrameTooLarge, DecodeError.HeaderLengthOutOfRange, DecodeError.InvalidHeader })
        {
            Assert.True(outcomes.GetValueOrDefault("tcp " + error) > 100, $"tcp {error} was reached too rarely");
        }

        foreach (var error in new[] { DecodeError.None, DecodeError.Truncated, DecodeError.HeaderLengthOutOfRange, DecodeError.InvalidHeader })
        {
            Assert.True(outcomes.GetValueOrDefault("ring " + error) > 100, $"ring {error} was reached too rarely");
        }

        Assert.True(outcomes.GetValueOrDefault("tcp Complete") > 1000, "too few frames decoded");
        Assert.True(outcomes.GetValueOrDefault("tcp NeedMoreData") > 100, "too few partial frames");
    }

    private static string CheckTcp(byte[] data, ReadOnlySequence<byte> buffer, int maxFrameSize, bool isCompleted, bool reencode)
    {
        var result = TcpFraming.ReadFrame(buffer, maxFrameSize, isCompleted);
        switch (result.Status)
        {
            case TcpFrameStatus.Complete:
                Require(result.IsComplete && result.Packet is not null, "Complete without a packet");
                using (var packet = result.Packet!)
                {
                    Require(result.Error == DecodeError.None, "Complete with an error");
                    uint total = BinaryPrimitives.ReadUInt32LittleEndian(data);
                    uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(4));
                    Require(total >= TcpFraming.MinTotalLength && total <= (uint)maxFrameSize, "total out of range accepted");
                    Require(buffer.Slice(0, result.Consumed).Length == 4L + total, "consumed is not the frame");
                    Require(total - 4 - headerLength == (uint)packet.BodyLength, "body length is not the rest of the frame");
                    Require(data.AsSpan((int)(8 + headerLength), packet.BodyLength).SequenceEqual(packet.BodySpan), "body differs");

                    if (reencode)
                    {
                        // What decoded must encode and decode to the same packet.
                        byte[] again = Frames.Tcp(packet.Header, packet.BodySpan);
                        var reread = TcpFraming.ReadFrame(new ReadOnlySequence<byte>(again));
                        Require(reread.IsComplete, "re-encoded frame does not decode");
                        using (reread.Packet)
                        {
                            Require(packet.Header.Equals(reread.Packet!.Header), "re-encoded header differs");
                            Require(packet.BodySpan.SequenceEqual(reread.Packet.BodySpan), "re-encoded body differs");
                        }
                    }
                }

                return "tcp Complete";

            case TcpFrameStatus.NeedMoreData:
                Require(result.Packet is null, "NeedMoreData with a packet");
                Require(result.Error == DecodeError.None, "NeedMoreData with an error");
                Require(data.Length == 0 || !isCompleted, "a partial frame at the end of the stream must be Truncated");
                Require(data.Length < 8 || data.Length < 4L + BinaryPrimitives.ReadUInt32LittleEndian(data), "a whole frame was not decoded");
                return "tcp NeedMoreData";

            case TcpFrameStatus.Invalid:
                Require(result.Packet is null, "Invalid with a packet");
                Require(result.Error != DecodeError.None, "Invalid without an error");
                Require(!string.IsNullOrEmpty(result.Error.ToMessage()), "error without a message");
                return ErrorNames[(int)result.Error];

            default:
                throw new InvalidOperationException($"Unknown status {result.Status}");
        }
    }

    private static string CheckRing(ReadOnlySpan<byte> payload)
    {
        bool decoded = RingFraming.TryDecode(payload, out var header, out var body, out var error);
        bool decodedPacket = RingFraming.TryDecodePacket(payload, out var packet, out var packetError);
        using (packet)
        {
            Require(decoded == decodedPacket && error == packetError, "TryDecode and TryDecodePacket disagree");
            if (decoded)
            {
                Require(header is not null && packet is not null, "success without a header");
                Require(error == DecodeError.None, "success with an error");
                uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(payload);
                Require(body.Length == payload.Length - 4 - (int)headerLength, "body is not the rest of the payload");
                Require(header!.Equals(packet!.Header), "headers differ");
                Require(body.SequenceEqual(packet.BodySpan), "bodies differ");
            }
            else
            {
                Require(header is null && packet is null, "failure with a header");
                Require(error != DecodeError.None, "failure without an error");
                Require(body.IsEmpty, "failure with a body");
            }
        }

        return RingNames[(int)error];
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    private static byte[] Mutate(Mutation mutation, byte[][] seeds, Random random)
    {
        byte[] frame = seeds[random.Next(seeds.Length)];
        switch (mutation)
        {
            case Mutation.None:
                return frame;

            case Mutation.FlipBits:
                return FlipBits((byte[])frame.Clone(), random);

            case Mutation.InsertBytes:
            {
                int at = random.Next(frame.Length + 1);
                var inserted = new byte[random.Next(1, 9)];
                random.NextBytes(inserted);
                return [.. frame.AsSpan(0, at), .. inserted, .. frame.AsSpan(at)];
            }

            case Mutation.DeleteBytes:
            {
                int at = random.Next(frame.Length);
                int count = Math.Min(frame.Length - at, random.Next(1, 9));
                return [.. frame.AsSpan(0, at), .. frame.AsSpan(at + count)];
            }

            case Mutation.OverwriteTotal:
            case Mutation.OverwriteHeaderLength:
            {
                var copy = (byte[])frame.Clone();
                uint value = random.Next(3) == 0
                    ? (uint)(frame.Length + random.Next(-10, 11))
                    : ExtremeLengths[random.Next(ExtremeLengths.Length)];
                BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(mutation == Mutation.OverwriteTotal ? 0 : 4), value);
                return copy;
            }

            case Mutation.Truncate:
                return frame[..random.Next(frame.Length)];

            case Mutation.RandomBytes:
            {
                var bytes = new byte[random.Next(65)];
                random.NextBytes(bytes);
                return bytes;
            }

            case Mutation.TwoFramesFlipped:
                return FlipBits([.. frame, .. seeds[random.Next(seeds.Length)]], random);

            case Mutation.ScrambleHeader:
            {
                var copy = (byte[])frame.Clone();
                int headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(4));
                if (headerLength > 0)
                {
                    int at = 8 + random.Next(headerLength);
                    int count = Math.Min(8 + headerLength - at, random.Next(1, 5));
                    random.NextBytes(copy.AsSpan(at, count));
                }

                return copy;
            }

            default:
                throw new InvalidOperationException($"Unknown mutation {mutation}");
        }
    }

    private static byte[] FlipBits(byte[] data, Random random)
    {
        int flips = random.Next(1, 5);
        for (int f = 0; f < flips; f++)
        {
            int bit = random.Next(data.Length * 8);
            data[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        return data;
    }

    private static void Count(Dictionary<string, int> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
}
