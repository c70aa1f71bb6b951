using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Kaze.Benchmarks.Core.CrossProcess;

/// <summary>
/// The bytes of a benchmark message: a fixed pseudo-random template whose first 8 bytes are
/// replaced by the message's sequence number. The reader checks the sequence number and an XOR
/// fold of every 8-byte word, so each message is verified whole (every cache line of it crosses
/// to the reader's core) at the cost of one pass of vector XORs.
/// </summary>
internal sealed class MessagePattern
{
    private readonly byte[] _template;
    // XOR of the template's words after the first: the fold of a message is this ^ its sequence number.
    private readonly ulong _restFold;

    public MessagePattern(int size)
    {
        if (size < 8 || size % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "message size must be a positive multiple of 8");
        }

        _template = new byte[size];
        uint x = 0x9E37_79B9;
        for (int i = 0; i < size; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            _template[i] = (byte)x;
        }

        _restFold = Fold(_template) ^ BinaryPrimitives.ReadUInt64LittleEndian(_template);
    }

    public int Size => _template.Length;

    /// <summary>Writes message <paramref name="sequence"/> into <paramref name="destination"/> (exactly <see cref="Size"/> bytes).</summary>
    public void Write(Span<byte> destination, ulong sequence)
    {
        _template.CopyTo(destination);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, sequence);
    }

    /// <summary>True if <paramref name="message"/> is exactly message <paramref name="sequence"/>.</summary>
    public bool IsMessage(ReadOnlySpan<byte> message, ulong sequence) =>
        message.Length == _template.Length
        && BinaryPrimitives.ReadUInt64LittleEndian(message) == sequence
        && Fold(message) == (_restFold ^ sequence);

    private static ulong Fold(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(bytes);
        ulong fold = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && words.Length >= Vector<ulong>.Count)
        {
            ReadOnlySpan<Vector<ulong>> vectors = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
            Vector<ulong> acc = Vector<ulong>.Zero;
            foreach (Vector<ulong> v in vectors)
            {
                acc ^= v;
            }

            for (int lane = 0; lane < Vector<ulong>.Count; lane++)
            {
                fold ^= acc[lane];
            }

            i = vectors.Length * Vector<ulong>.Count;
        }

        for (; i < words.Length; i++)
        {
            fold ^= words[i];
        }

        return fold;
    }
}
