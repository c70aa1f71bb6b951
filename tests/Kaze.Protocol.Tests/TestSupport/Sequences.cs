using System.Buffers;

namespace Kaze.Protocol.Tests.TestSupport;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe hands over data received in pieces.</summary>
internal static class Sequences
{
    /// <summary>Splits <paramref name="data"/> at the given ascending offsets; each segment gets its own array.</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, params int[] cuts)
    {
        var first = new Segment(data[..(cuts.Length == 0 ? data.Length : cuts[0])].ToArray(), 0);
        var last = first;
        for (int i = 0; i < cuts.Length; i++)
        {
            int end = i + 1 < cuts.Length ? cuts[i + 1] : data.Length;
            last = last.Append(data[cuts[i]..end].ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>One segment per byte: the worst case for a reader that assumes contiguous data.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var cuts = new int[data.Length - 1];
        for (int i = 0; i < cuts.Length; i++)
        {
            cuts[i] = i + 1;
        }

        return Split(data, cuts);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
