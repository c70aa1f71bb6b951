namespace Kaze.Core;

/// <summary>Copying async conveniences over the zero-copy ring ends.</summary>
public static class RingAsyncExtensions
{
    /// <summary>Copies <paramref name="record"/> into the ring, awaiting space without blocking a thread.</summary>
    public static async ValueTask<ChannelStatus> WriteAsync(this RingWriter writer, ReadOnlyMemory<byte> record, CancellationToken ct = default)
    {
        while (true)
        {
            ChannelStatus status = writer.TryWrite(record.Span);
            if (status != ChannelStatus.Full)
            {
                return status;
            }

            status = await writer.WaitToWriteAsync(record.Length, ct).ConfigureAwait(false);
            if (status != ChannelStatus.Ok)
            {
                return status;
            }
        }
    }

    /// <summary>Reads the next record into a new array, awaiting one without blocking a thread.</summary>
    /// <returns>The status, and the record when it is Ok.</returns>
    public static async ValueTask<(ChannelStatus Status, byte[]? Record)> ReadAsync(this RingReader reader, CancellationToken ct = default)
    {
        while (true)
        {
            (ChannelStatus status, byte[]? copy) = reader.TryReadCopy();
            if (status != ChannelStatus.Empty)
            {
                return (status, copy);
            }

            status = await reader.WaitToReadAsync(ct).ConfigureAwait(false);
            if (status != ChannelStatus.Ok)
            {
                return (status, null);
            }
        }
    }
}
