using System.Buffers;

namespace Kaze.Protocol.Tests.TestSupport;

/// <summary>An <see cref="IBufferWriter{T}"/> that hands out spans no larger than asked for (or a small chunk), like a pipe near a segment end.</summary>
internal sealed class ChunkingBufferWriter(int chunkSize) : IBufferWriter<byte>
{
    private readonly List<byte> _written = [];
    private byte[] _current = [];

    public int GetSpanCalls { get; private set; }

    public int LargestSpanRequested { get; private set; }

    public byte[] WrittenBytes => [.. _written];

    public void Advance(int count)
    {
        if (count < 0 || count > _current.Length)
        {
            throw new InvalidOperationException($"Advance({count}) past the {_current.Length} bytes handed out.");
        }

        _written.AddRange(_current.AsSpan(0, count).ToArray());
        _current = [];
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        GetSpanCalls++;
        LargestSpanRequested = Math.Max(LargestSpanRequested, sizeHint);
        _current = new byte[Math.Max(sizeHint, chunkSize)];
        return _current;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
