using System.Buffers;
using System.Net.Sockets;
using Kaze.Mesh.Connections;

namespace Kaze.Mesh.Tls;

/// <summary>
/// The transport under a connection's <see cref="System.Net.Security.SslStream"/>: the socket's
/// bytes go through here, so the corral keeps its own socket calls (blocking socket, reads that
/// poll before they sleep, sends that never block outside the writer thread; see
/// <see cref="SocketIo"/>) with TLS as without.
/// </summary>
/// <remarks>
/// <para>
/// Reading: ciphertext is received into <see cref="_in"/> (<see cref="TryFill"/> without waiting,
/// or a blocking recv when SslStream asks and nothing is there) and handed to SslStream at most
/// one TLS record per <see cref="Read(Span{byte})"/>. So SslStream never holds ciphertext of a
/// record it has not decrypted, and as long as each read offers it room for a whole record's
/// plaintext (16 KiB) it holds nothing once a read returns: whether a read would wait is decided
/// here, by what <see cref="_in"/> holds.
/// </para>
/// <para>
/// Writing: after the handshake, what SslStream writes is appended to <see cref="_out"/> and
/// sent by the holder of the right to write (<see cref="SendPending"/>): one SslStream write
/// encrypts a whole batch of frames, then the ciphertext leaves in as few sends as the socket
/// allows. During the handshake writes go straight to the socket (blocking).
/// </para>
/// </remarks>
internal sealed class TlsWire : Stream
{
    private const int InSize = 64 * 1024;
    private const int RecordHeaderSize = 5;
    private const int OutSize = 80 * 1024;

    private readonly Socket _socket;

    // Ciphertext received, not yet handed to SslStream, at [_inStart, _inEnd). The reader's only.
    private byte[] _in = ArrayPool<byte>.Shared.Rent(InSize);
    private int _inStart;
    private int _inEnd;

    // Where the next byte handed over falls in the record stream: bytes left of the record's
    // body, or (at 0) the record header's bytes seen so far. The reader's only.
    private int _recordLeft;
    private int _headerSeen;
    private readonly byte[] _header = new byte[RecordHeaderSize];

    // The peer's FIN was received (the reader's only).
    private bool _eof;

    // Ciphertext written by SslStream, not yet sent, at [_outStart, _outEnd); under _outLock
    // (SslStream may write from the reading thread too, e.g. an alert). Replaced, never
    // returned to a pool while a send may be reading it.
    private readonly Lock _outLock = new();
    private byte[] _out = new byte[OutSize];
    private int _outStart;
    private int _outEnd;

    // True during the handshake: writes go to the socket at once.
    private volatile bool _direct = true;

    public TlsWire(Socket socket)
    {
        _socket = socket;
    }

    /// <summary>Received ciphertext is waiting to be decrypted: a read of the SslStream returns without waiting for the network (or waits only for the rest of a record).</summary>
    public bool HasInput => _inEnd > _inStart;

    /// <summary>Ciphertext is waiting to be sent.</summary>
    public bool HasOutput
    {
        get
        {
            lock (_outLock)
            {
                return _outEnd > _outStart;
            }
        }
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The handshake is over: from now on, writes are kept for <see cref="SendPending"/>.</summary>
    public void EndHandshake() => _direct = false;

    /// <summary>Receives what has arrived, never waiting.</summary>
    public SocketIo.IoStatus TryFill(out string? error)
    {
        if (_eof)
        {
            error = null;
            return SocketIo.IoStatus.Done;
        }

        Compact();
        if (_inEnd == _in.Length)
        {
            // Full of ciphertext not yet decrypted: nothing to receive now.
            error = null;
            return SocketIo.IoStatus.Done;
        }

        SocketIo.IoStatus status = SocketIo.TryReceive(_socket, _in.AsSpan(_inEnd), out int received, out error);
        if (status == SocketIo.IoStatus.Done)
        {
            if (received == 0)
            {
                _eof = true;
            }

            _inEnd += received;
        }

        return status;
    }

    /// <summary>
    /// Sends pending ciphertext: all of it (Done), until the socket's buffer is full (WouldBlock,
    /// only when not <paramref name="blocking"/>), or until the connection fails.
    /// </summary>
    public SocketIo.IoStatus SendPending(bool blocking, out int sends, out string? error)
    {
        sends = 0;
        error = null;
        while (true)
        {
            byte[] buffer;
            int start;
            int end;
            lock (_outLock)
            {
                if (_outStart == _outEnd)
                {
                    _outStart = _outEnd = 0;
                    return SocketIo.IoStatus.Done;
                }

                buffer = _out;
                start = _outStart;
                end = _outEnd;
            }

            ReadOnlySpan<byte> data = buffer.AsSpan(start, end - start);
            SocketIo.IoStatus status = blocking
                ? SocketIo.SendBlocking(_socket, data, out int sent, out error)
                : SocketIo.TrySend(_socket, data, out sent, out error);
            if (status != SocketIo.IoStatus.Done)
            {
                return status;
            }

            sends++;
            lock (_outLock)
            {
                // Appends (and a replacement of the buffer) keep [_outStart, _outEnd) in place.
                _outStart += sent;
                if (_outStart == _outEnd)
                {
                    _outStart = _outEnd = 0;
                }
            }
        }
    }

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_inStart == _inEnd)
        {
            if (_eof)
            {
                return 0;
            }

            _inStart = _inEnd = 0;
            if (SocketIo.ReceiveBlocking(_socket, _in, out int received, out string? error) != SocketIo.IoStatus.Done)
            {
                throw new IOException(error);
            }

            if (received == 0)
            {
                _eof = true;
                return 0;
            }

            _inEnd = received;
        }

        // Up to the end of the current record, never into the next.
        int limit = Math.Min(buffer.Length, _inEnd - _inStart);
        int given = 0;
        ReadOnlySpan<byte> input = _in.AsSpan(_inStart, limit);
        while (given < limit)
        {
            if (_recordLeft > 0)
            {
                int take = Math.Min(_recordLeft, limit - given);
                input.Slice(given, take).CopyTo(buffer[given..]);
                given += take;
                _recordLeft -= take;
                if (_recordLeft == 0)
                {
                    break;
                }

                continue;
            }

            byte next = input[given];
            buffer[given++] = next;
            _header[_headerSeen++] = next;
            if (_headerSeen == RecordHeaderSize)
            {
                _headerSeen = 0;
                _recordLeft = (_header[3] << 8) | _header[4];
                if (_recordLeft == 0)
                {
                    break;
                }
            }
        }

        _inStart += given;
        return given;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return new ValueTask<int>(Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_direct)
        {
            while (!buffer.IsEmpty)
            {
                if (SocketIo.SendBlocking(_socket, buffer, out int sent, out string? error) != SocketIo.IoStatus.Done)
                {
                    throw new IOException(error);
                }

                buffer = buffer[sent..];
            }

            return;
        }

        lock (_outLock)
        {
            int pending = _outEnd - _outStart;
            if (pending == 0)
            {
                // No send is reading the buffer (one reads only pending bytes).
                _outStart = _outEnd = 0;
            }

            if (_out.Length - _outEnd < buffer.Length)
            {
                {
                    // A new array: a send may still be reading the old one (outside the lock).
                    byte[] bigger = new byte[Math.Max(OutSize, pending + buffer.Length)];
                    _out.AsSpan(_outStart, pending).CopyTo(bigger);
                    _out = bigger;
                    _outStart = 0;
                    _outEnd = pending;
                }
            }

            buffer.CopyTo(_out.AsSpan(_outEnd));
            _outEnd += buffer.Length;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>After a large batch: back to a buffer of the usual size, when nothing is pending.</summary>
    public void TrimOutput()
    {
        lock (_outLock)
        {
            if (_out.Length > OutSize && _outStart == _outEnd)
            {
                _out = new byte[OutSize];
                _outStart = _outEnd = 0;
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            byte[] input = _in;
            _in = [];
            _inStart = _inEnd = 0;
            if (input.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(input);
            }
        }

        base.Dispose(disposing);
    }

    private void Compact()
    {
        if (_inStart == _inEnd)
        {
            _inStart = _inEnd = 0;
        }
        else if (_in.Length - _inEnd < 4096)
        {
            int held = _inEnd - _inStart;
            _in.AsSpan(_inStart, held).CopyTo(_in);
            _inStart = 0;
            _inEnd = held;
        }
    }
}
