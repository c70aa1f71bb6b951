using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Kaze.Core.Waiting;
using Kaze.Mesh.Sessions;
using Kaze.Protocol;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The receiving side of one connection: reads into one pooled buffer (a short polite spin, then a
/// blocking read), and frames decoded in place from it (<see cref="TcpFraming.ReadFrame"/>), many
/// per read when they arrive together.
/// </summary>
/// <remarks>
/// The buffer holds the bytes received and not yet decoded at <c>[_start, _end)</c>. It grows to
/// hold one frame larger than itself (never beyond the frame limit, which <see cref="Next"/>
/// checks as soon as a frame's length has arrived) and shrinks back once that frame is decoded,
/// so one 16 MiB frame does not pin 16 MiB per connection for good. Used by one thread at a time
/// (the connection's, or the edge's reader while the reads are lent: see ReadLender).
/// </remarks>
internal sealed class FrameReceiver : IDisposable
{
    public const int BufferSize = 64 * 1024;

    // Below this much free space at the end, the undecoded bytes move to the start before a read.
    private const int MinReadSize = 4096;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _start;
    private int _end;

    // How long a read polls before it sleeps.
    private SpinBudget _spin;

    /// <summary>Decodes the next frame from what was received, if it has fully arrived.</summary>
    /// <param name="maxFrameSize">The limit on a frame's total length.</param>
    /// <param name="completed">The peer has closed its side: a partial frame is then truncated.</param>
    /// <param name="frameLength">The bytes the frame took, when complete.</param>
    /// <returns>As <see cref="TcpFraming.ReadFrame"/>: the caller owns a complete frame's packet.</returns>
    public TcpFrameReadResult Next(int maxFrameSize, bool completed, out int frameLength)
    {
        var buffered = new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
        TcpFrameReadResult frame = TcpFraming.ReadFrame(buffered, maxFrameSize, completed);
        if (frame.IsComplete)
        {
            frameLength = (int)buffered.Slice(0, frame.Consumed).Length;
            _start += frameLength;
            if (_start == _end)
            {
                _start = _end = 0;
            }
        }
        else
        {
            frameLength = 0;
        }

        return frame;
    }

    /// <summary>
    /// Waits for bytes from <paramref name="socket"/> (a blocking socket) and appends them; makes
    /// room first, for the whole frame whose length has arrived if it is larger than the buffer.
    /// Takes what has already arrived without sleeping if it can; else polls for up to the spin
    /// budget (<see cref="SpinBudget"/>), offering the core to other threads between polls, before
    /// it sleeps in recv(2).
    /// </summary>
    /// <param name="socket">The connection.</param>
    /// <param name="spin">False: sleep at once if nothing has arrived (the socket was just polled for a whole spin).</param>
    /// <param name="error">Why the read failed; null otherwise.</param>
    /// <returns>The bytes received; 0 when the peer has closed its side (or on an error).</returns>
    public int Receive(Socket socket, bool spin, out string? error)
    {
        SocketIo.IoStatus status = ReceiveNow(socket, out int ready, out error);
        if (status == SocketIo.IoStatus.WouldBlock)
        {
            long start = Stopwatch.GetTimestamp();
            status = spin ? SpinReceive(socket, start, out ready, out error) : SocketIo.IoStatus.WouldBlock;
            if (status == SocketIo.IoStatus.WouldBlock)
            {
                status = SocketIo.ReceiveBlocking(socket, _buffer.AsSpan(_end), out ready, out error);
                if (status == SocketIo.IoStatus.Done && spin)
                {
                    _spin.Slept(start, Stopwatch.GetTimestamp());
                }
            }

            if (status == SocketIo.IoStatus.Done)
            {
                _end += ready;
            }
        }

        return status == SocketIo.IoStatus.Done ? ready : 0;
    }

    /// <summary>Appends what has already arrived from <paramref name="socket"/>, never waiting (room is made first, as for <see cref="Receive"/>).</summary>
    /// <param name="socket">The connection.</param>
    /// <param name="received">The bytes received, when <see cref="SocketIo.IoStatus.Done"/>; 0 is the peer's FIN.</param>
    /// <param name="error">Why, when <see cref="SocketIo.IoStatus.Failed"/>.</param>
    /// <returns>What happened.</returns>
    public SocketIo.IoStatus ReceiveNow(Socket socket, out int received, out string? error)
    {
        MakeRoom();
        SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.AsSpan(_end), out received, out error);
        if (status == SocketIo.IoStatus.Done)
        {
            _end += received;
        }

        return status;
    }

    /// <summary>
    /// Polls the socket until bytes arrive or the spin budget runs out (WouldBlock). A sleeping
    /// reader costs the next burst a kernel wake-up (tens of µs on a small VM), and in a pipeline
    /// of several threads on two cores those add up per round; a thread that polls politely costs
    /// only cores nobody else wants.
    /// </summary>
    private SocketIo.IoStatus SpinReceive(Socket socket, long start, out int ready, out string? error)
    {
        long budget = _spin.Begin();
        long end = start + budget;
        do
        {
            Thread.Yield();
            SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.AsSpan(_end), out ready, out error);
            if (status == SocketIo.IoStatus.Done)
            {
                _spin.Succeeded(budget);
            }

            if (status != SocketIo.IoStatus.WouldBlock)
            {
                return status;
            }
        }
        while (Stopwatch.GetTimestamp() < end);

        _spin.Failed(budget);
        return SocketIo.IoStatus.WouldBlock;
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void MakeRoom()
    {
        int buffered = _end - _start;

        // The whole next frame must fit, once its length is known (the caller checked it against the limit).
        long needed = buffered + 1;
        if (buffered >= sizeof(uint))
        {
            needed = Math.Max(needed, sizeof(uint) + (long)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start)));
        }

        if (_buffer.Length > BufferSize && needed <= BufferSize)
        {
            // A large frame was decoded: back to a buffer of the usual size.
            Replace(BufferSize);
            return;
        }

        if (needed > _buffer.Length)
        {
            Replace((int)Math.Min(needed, Array.MaxLength));
            return;
        }

        if (_buffer.Length - _end < MinReadSize || _buffer.Length - _start < needed)
        {
            _buffer.AsSpan(_start, buffered).CopyTo(_buffer);
            _start = 0;
            _end = buffered;
        }
    }

    private void Replace(int size)
    {
        int buffered = _end - _start;
        byte[] replacement = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(_start, buffered).CopyTo(replacement);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = replacement;
        _start = 0;
        _end = buffered;
    }
}
