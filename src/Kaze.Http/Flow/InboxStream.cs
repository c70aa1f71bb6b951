namespace Kaze.Http.Flow;

/// <summary>A read-only stream over a <see cref="BodyInbox"/>: what the forwarder reads a body from.</summary>
internal sealed class InboxStream(BodyInbox inbox, Action? atEnd = null, Action? onDispose = null) : Stream
{
    private int _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await inbox.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read == 0 && buffer.Length > 0 && Interlocked.Exchange(ref _ended, 1) == 0)
        {
            atEnd?.Invoke();
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            onDispose?.Invoke();
        }

        base.Dispose(disposing);
    }
}
