using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>
/// The ring against a plain <see cref="Queue{T}"/> model: random interleavings of claims, commits
/// (published at once or batched), abandoned claims, reads (released at once or later) and
/// releases on small rings. Records come out identical and in order; Full is returned exactly
/// when the documented free-space rule says the record does not fit; records read but not
/// released are never overwritten.
/// </summary>
/// <remarks>
/// The documented rule (ChannelLayout, docs/shm-format.md): positions only grow; a record takes
/// R = align8(4 + length) bytes; if R does not fit between the tail and the ring's end, a padding
/// record fills the rest and the record starts at offset 0, and the skipped bytes count as used.
/// So a record needs R bytes free, or (bytes to the end + R) when it wraps; free = capacity − (tail − head),
/// where head is what the reader has released.
/// </remarks>
public sealed unsafe class RingPropertyTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void TryClaimCommitTryReadRelease_RandomInterleavings_MatchAQueueModelAndTheDocumentedFreeSpaceRule()
    {
        Arbitrary<RingScript> scripts = Arb.From(RingScript.Generator(), RingScript.Shrink);

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300).WithEndSize(120).WithQuietOnSuccess(true), Prop.ForAll(scripts, Run));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(256)]
    [InlineData(4096)]
    public void TryClaim_EveryStartOffsetAndLength_FullExactlyWhenTheRuleSaysSo(int capacity)
    {
        // Exhaustive over the tail's (8-aligned) offset and a set of payload lengths, each claimed
        // in an empty ring and then with one record waiting: no wrap case can hide from a random search.
        int max = capacity / 2 - 4;
        int[] lengths = [0, 1, 4, 5, 12, max / 3, max / 2, max - 8, max - 5, max - 4, max - 1, max];
        var ops = new List<RingOp>();
        for (int offset = 0; offset < capacity; offset += 8)
        {
            foreach (int length in lengths)
            {
                ops.Add(new RingOp(OpKind.AdvanceTo, offset, 0, true));
                ops.Add(new RingOp(OpKind.Write, length, 0, true));
                ops.Add(new RingOp(OpKind.Write, length, 0, true));
                ops.Add(new RingOp(OpKind.Read, 0, 0, true));
                ops.Add(new RingOp(OpKind.Read, 0, 0, true));
            }
        }

        Run(new RingScript(capacity, [.. ops]));
    }

    private void Run(RingScript script)
    {
        using ChannelPair pair = _channels.CreatePair(sidecarToHost: script.Capacity, hostToSidecar: 64);
        var model = new RingModel(script.Capacity, pair.Writer, pair.Reader);
        for (int i = 0; i < script.Ops.Length; i++)
        {
            model.Apply(i, script.Ops[i]);
        }

        model.DrainAndCheck();
    }

    internal enum OpKind
    {
        /// <summary>TryClaim(Length), fill, Commit(Length − Shorten, publish: Flag).</summary>
        Write,

        /// <summary>A write whose record ends Length bytes (−8..8) from the ring's end, given where the tail is.</summary>
        WriteNearWrap,

        /// <summary>TryClaim(Length), then Abandon.</summary>
        ClaimAbandon,

        /// <summary>TryClaim(MaxRecordLength + 1).</summary>
        ClaimTooLarge,

        Publish,

        /// <summary>TryRead, and Release at once if Flag.</summary>
        Read,

        Release,

        /// <summary>Test setup, not generated: drain, then move the (empty) ring's tail to offset Length.</summary>
        AdvanceTo,
    }

    internal readonly record struct RingOp(OpKind Kind, int Length, int Shorten, bool Flag)
    {
        public override string ToString() => Kind switch
        {
            OpKind.Write => $"W{Length}{(Shorten > 0 ? "-" + Shorten : "")}{(Flag ? "" : "u")}",
            OpKind.WriteNearWrap => $"N{Length:+0;-0;0}{(Flag ? "" : "u")}",
            OpKind.ClaimAbandon => $"A{Length}",
            OpKind.ClaimTooLarge => "T",
            OpKind.Publish => "P",
            OpKind.Read => Flag ? "Rr" : "R",
            OpKind.Release => "r",
            OpKind.AdvanceTo => $"@{Length}",
            _ => "?",
        };
    }

    internal sealed record RingScript(int Capacity, RingOp[] Ops)
    {
        public static Gen<RingScript> Generator() =>
            from capacity in Gen.Elements(64, 128, 256, 512, 1024, 2048, 4096)
            from ops in Gen.Sized(size => Gen.Choose(0, size * 4)).SelectMany(n => OpGenerator(capacity).ArrayOf(n))
            select new RingScript(capacity, ops);

        /// <summary>Shorter scripts first (halves, quarters, single ops dropped), then a smaller ring.</summary>
        public static IEnumerable<RingScript> Shrink(RingScript script)
        {
            RingOp[] ops = script.Ops;
            for (int chunk = ops.Length / 2; chunk >= 1; chunk /= 2)
            {
                for (int start = 0; start + chunk <= ops.Length; start += chunk)
                {
                    yield return script with { Ops = [.. ops[..start], .. ops[(start + chunk)..]] };
                }
            }

            if (script.Capacity > 64)
            {
                yield return script with { Capacity = script.Capacity / 2 };
            }
        }

        public override string ToString() => $"capacity {Capacity}, {Ops.Length} ops: {string.Join(' ', Ops)}";

        private static Gen<RingOp> OpGenerator(int capacity)
        {
            int max = capacity / 2 - 4;
            Gen<int> length = Gen.Frequency(
                (2, Gen.Constant(0)),
                (2, Gen.Constant(max)),
                (1, Gen.Choose(max - 8, max)),
                (3, Gen.Choose(1, Math.Min(64, max))),
                (3, Gen.Choose(0, max)));
            Gen<bool> publish = Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)));
            Gen<RingOp> write =
                from len in length
                from shorten in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(0, len)))
                from p in publish
                select new RingOp(OpKind.Write, len, shorten, p);
            Gen<RingOp> nearWrap =
                from delta in Gen.Choose(-8, 8)
                from p in publish
                select new RingOp(OpKind.WriteNearWrap, delta, 0, p);
            Gen<RingOp> read = Gen.Elements(true, false).Select(release => new RingOp(OpKind.Read, 0, 0, release));
            return Gen.Frequency(
                (30, write),
                (15, nearWrap),
                (30, read),
                (8, Gen.Constant(new RingOp(OpKind.Release, 0, 0, false))),
                (6, Gen.Constant(new RingOp(OpKind.Publish, 0, 0, false))),
                (4, length.Select(len => new RingOp(OpKind.ClaimAbandon, len, 0, false))),
                (2, Gen.Constant(new RingOp(OpKind.ClaimTooLarge, 0, 0, false))));
        }
    }

    /// <summary>The model: positions as documented, a queue of committed records, and the records read but not released.</summary>
    private sealed class RingModel(int capacity, RingWriter writer, RingReader reader)
    {
        private readonly int _max = capacity / 2 - 4;
        private readonly Queue<(byte[] Data, long End)> _unread = new();
        private readonly List<(nint Address, byte[] Data)> _held = [];
        // Bytes ever committed by the writer / made visible / released by the reader / read.
        private long _tail;
        private long _published;
        private long _head;
        private long _readPos;
        private int _records;
        private string _context = "";

        public void Apply(int index, RingOp op)
        {
            _context = $"op {index} ({op}), tail {_tail} (offset {_tail % capacity}), head {_head}";
            switch (op.Kind)
            {
                case OpKind.Write:
                    Write(Math.Min(op.Length, _max), op.Shorten, op.Flag);
                    break;
                case OpKind.WriteNearWrap:
                    long toEnd = capacity - (_tail % capacity);
                    Write((int)Math.Clamp(toEnd - 4 + op.Length, 0, _max), 0, op.Flag);
                    break;
                case OpKind.ClaimAbandon:
                    int length = Math.Min(op.Length, _max);
                    ChannelStatus status = writer.TryClaim(length, out Span<byte> payload);
                    Expect(Fits(length, out _) ? ChannelStatus.Ok : ChannelStatus.Full, status, $"TryClaim({length}) to abandon");
                    if (status == ChannelStatus.Ok)
                    {
                        payload.Fill(0xAB);
                        writer.Abandon();
                    }

                    break;
                case OpKind.ClaimTooLarge:
                    Expect(ChannelStatus.TooLarge, writer.TryClaim(_max + 1, out Span<byte> none), $"TryClaim({_max + 1})");
                    Check(none.IsEmpty, "a TooLarge claim returned a non-empty span");
                    break;
                case OpKind.Publish:
                    writer.Publish();
                    _published = _tail;
                    break;
                case OpKind.Read:
                    Read(op.Flag);
                    break;
                case OpKind.Release:
                    Release();
                    break;
                case OpKind.AdvanceTo:
                    AdvanceTo(op.Length);
                    break;
            }

            Check(reader.UsedBytes == _published - _head, $"UsedBytes is {reader.UsedBytes}, the model says {_published - _head}");
        }

        public void DrainAndCheck()
        {
            _context = "final drain";
            writer.Publish();
            _published = _tail;
            while (_unread.Count > 0)
            {
                Read(release: true);
            }

            Expect(ChannelStatus.Empty, reader.TryRead(out _), "TryRead after the last record");
            Release();
            Check(reader.UsedBytes == 0, $"UsedBytes is {reader.UsedBytes} after draining");
        }

        private void AdvanceTo(int offset)
        {
            writer.Publish();
            _published = _tail;
            while (_unread.Count > 0)
            {
                Read(release: true);
            }

            Release();
            while (_tail % capacity != offset)
            {
                // The largest record that neither wraps nor overshoots.
                long toEnd = capacity - (_tail % capacity);
                long distance = ((offset - _tail) % capacity + capacity) % capacity;
                long size = Math.Min(Math.Min(toEnd, distance), capacity / 2);
                Write((int)size - 4, 0, publish: true);
                Read(release: true);
            }
        }

        private void Write(int length, int shorten, bool publish)
        {
            bool fits = Fits(length, out long start);
            ChannelStatus status = writer.TryClaim(length, out Span<byte> payload);
            Expect(fits ? ChannelStatus.Ok : ChannelStatus.Full, status, $"TryClaim({length}) with {capacity - (_tail - _head)} bytes free");
            if (status != ChannelStatus.Ok)
            {
                Check(payload.IsEmpty, "a Full claim returned a non-empty span");
                return;
            }

            Check(payload.Length == length, $"claimed {length} bytes, got a span of {payload.Length}");
            Check(AddressOf(payload) % 8 == 4, "the payload does not start 4 bytes after an 8-aligned record start");
            byte[] data = Pattern(++_records, length);
            data.CopyTo(payload);
            int committed = length - Math.Min(shorten, length);
            writer.Commit(committed, publish);
            _tail = start + ChannelLayout.RecordSize(committed);
            _unread.Enqueue((data[..committed], _tail));
            if (publish)
            {
                _published = _tail;
            }
        }

        private void Read(bool release)
        {
            bool visible = _unread.Count > 0 && _unread.Peek().End <= _published;
            ChannelStatus status = reader.TryRead(out ReadOnlySpan<byte> record);
            Expect(visible ? ChannelStatus.Ok : ChannelStatus.Empty, status, "TryRead");
            if (status == ChannelStatus.Ok)
            {
                (byte[] expected, long end) = _unread.Dequeue();
                Check(record.SequenceEqual(expected), $"read {Describe(record)}, expected {Describe(expected)}");
                _held.Add((AddressOf(record), expected));
                _readPos = end;
            }

            if (release)
            {
                Release();
            }
        }

        private void Release()
        {
            // What was read and not yet released must not have been overwritten meanwhile.
            foreach ((nint address, byte[] data) in _held)
            {
                var now = new ReadOnlySpan<byte>((void*)address, data.Length);
                Check(now.SequenceEqual(data), $"a record read but not released was overwritten: now {Describe(now)}, was {Describe(data)}");
            }

            _held.Clear();
            reader.Release();
            _head = _readPos;
        }

        /// <summary>The documented rule; <paramref name="start"/> is where the record would begin.</summary>
        private bool Fits(int length, out long start)
        {
            long size = ChannelLayout.RecordSize(length);
            long toEnd = capacity - (_tail % capacity);
            long needed = toEnd >= size ? size : toEnd + size;
            start = toEnd >= size ? _tail : _tail + toEnd;
            return capacity - (_tail - _head) >= needed;
        }

        private void Expect(ChannelStatus expected, ChannelStatus actual, string what) =>
            Check(expected == actual, $"{what} returned {actual}, the model expects {expected}");

        private void Check(bool condition, string message)
        {
            if (!condition)
            {
                Assert.Fail($"{_context}: {message}");
            }
        }

        private static nint AddressOf(ReadOnlySpan<byte> span) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));

        private static byte[] Pattern(int record, int length)
        {
            byte[] data = new byte[length];
            var random = new Random(record);
            random.NextBytes(data);
            return data;
        }

        private static string Describe(ReadOnlySpan<byte> bytes)
        {
            var text = new StringBuilder($"{bytes.Length} bytes [");
            text.Append(Convert.ToHexString(bytes[..Math.Min(bytes.Length, 12)]));
            return text.Append(bytes.Length > 12 ? "...]" : "]").ToString();
        }
    }
}
