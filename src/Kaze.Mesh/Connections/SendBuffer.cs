using System.Buffers;
using Kaze.Mesh.Sessions;

namespace Kaze.Mesh.Connections;

/// <summary>
/// One contiguous, pooled buffer that the connection's writer fills with one or many frames and
/// then sends with one system call. Grows by renting a larger array; after a batch that made it large it gives
/// the large array back, so one 16 MiB frame does not pin 16 MiB per connection for good.
/// </summary>
internal sealed class SendBuffer : IBufferWriter<byte>, IDisposable
{
    public const int InitialSize = 64 * 1024;

    // Above this, the array goes back to the pool at Reset.
    private const int KeepSize = 1024 * 1024;

    private byte[] _array = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _written;

    public int WrittenCount => _written;

    public ReadOnlyMemory<byte> WrittenMemory => new(_array, 0, _written);

    public ReadOnlySpan<byte> WrittenSpan => new(_array, 0, _written);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _array.Length - _written)
        {
            throw new InvalidOperationException("Advanced past the end of the buffer.");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_written);
    }

    public void Reset()
    {
        _written = 0;
        if (_array.Length > KeepSize)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(InitialSize);
        }
    }

    public void Dispose()
    {
        byte[] array = _array;
        _array = [];
        _written = 0;
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_array.Length - _written >= needed)
        {
            return;
        }

        long size = Math.Max((long)_array.Length * 2, (long)_written + needed);
        byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(size, Array.MaxLength));
        _array.AsSpan(0, _written).CopyTo(larger);
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = larger;
    }
}
