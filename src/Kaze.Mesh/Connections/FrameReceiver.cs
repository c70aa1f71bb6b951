using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Kaze.Core.Waiting;
using Kaze.Mesh.Sessions;
using Kaze.Mesh.Tls;
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
/// checks as soon as a frame's length has arrived): that buffer is taken from the corral's
/// <see cref="ReceiveBudget"/> and mapped from the kernel (<see cref="MappedBuffer"/>), and is
/// unmapped as soon as that frame is decoded, so one 16 MiB frame pins 16 MiB neither per
/// connection nor in the process. Used by one thread at a time (the connection's, or the edge's
/// reader while the reads are lent: see ReadLender).
/// </remarks>
internal sealed class FrameReceiver : IDisposable
{
    public const int BufferSize = 64 * 1024;

    // Below this much free space at the end, the undecoded bytes move to the start before a read.
    private const int MinReadSize = 4096;

    // Where large buffers come from; null: no limit (tests of this type alone).
    private readonly ReceiveBudget? _budget;

    // The buffer in use: _pooled (the usual 64 KiB, from the pool) or _mapped (one large frame's,
    // taken from the budget and unmapped once the frame is decoded). Empty once disposed.
    private Memory<byte> _buffer;
    private byte[]? _pooled;
    private MappedBuffer? _mapped;
    private int _start;
    private int _end;

    // How long a read polls before it sleeps.
    private SpinBudget _spin;

    // Environment.TickCount64 when the frame now partly received began to arrive; 0: none is.
    // Written by the reading thread, read by the corral's sweep (FrameTimeout).
    private long _partialSince;

    // A frame was decoded since the last NoteProgress: a partial one now is a new frame.
    private bool _decodedSinceNote;

    public FrameReceiver(ReceiveBudget? budget = null)
    {
        _budget = budget;
        _pooled = ArrayPool<byte>.Shared.Rent(BufferSize);
        _buffer = _pooled;
    }

    /// <summary>Environment.TickCount64 when the frame now partly received began to arrive; 0 when none is.</summary>
    public long PartialSince => Volatile.Read(ref _partialSince);

    /// <summary>Set when the last read failed because a frame's buffer did not fit the receive budget.</summary>
    public bool OverBudget { get; private set; }

    /// <summary>The size of the buffer in use (for tests: 64 KiB unless a large frame is arriving).</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Decodes the next frame from what was received, if it has fully arrived.</summary>
    /// <param name="maxFrameSize">The limit on a frame's total length.</param>
    /// <param name="completed">The peer has closed its side: a partial frame is then truncated.</param>
    /// <param name="frameLength">The bytes the frame took, when complete.</param>
    /// <returns>As <see cref="TcpFraming.ReadFrame"/>: the caller owns a complete frame's packet.</returns>
    public TcpFrameReadResult Next(int maxFrameSize, bool completed, out int frameLength)
    {
        var buffered = new ReadOnlySequence<byte>(_buffer.Slice(_start, _end - _start));
        TcpFrameReadResult frame = TcpFraming.ReadFrame(buffered, maxFrameSize, completed);
        if (frame.IsComplete)
        {
            frameLength = (int)buffered.Slice(0, frame.Consumed).Length;
            _decodedSinceNote = true;
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
    /// After decoding what was received: records when the frame still partly received began to
    /// arrive (for <see cref="CorralOptions.FrameTimeout"/>), and returns a large frame's buffer
    /// once that frame is done.
    /// </summary>
    public void NoteProgress()
    {
        if (_start == _end)
        {
            if (_partialSince != 0)
            {
                Volatile.Write(ref _partialSince, 0);
            }

            if (_mapped is not null)
            {
                Replace(BufferSize);
            }
        }
        else if (_partialSince == 0 || _decodedSinceNote)
        {
            Volatile.Write(ref _partialSince, Environment.TickCount64);
        }

        _decodedSinceNote = false;
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
                status = SocketIo.ReceiveBlocking(socket, _buffer.Span[_end..], out ready, out error);
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

    /// <summary>
    /// As <see cref="Receive"/>, through TLS: waits for ciphertext the same way (a poll for up to
    /// the spin budget, then a blocking read), then decrypts it into the buffer.
    /// </summary>
    /// <param name="tls">The connection's TLS.</param>
    /// <param name="spin">False: sleep at once if nothing has arrived.</param>
    /// <param name="error">Why the read failed; null otherwise.</param>
    /// <returns>The bytes received; 0 when the peer has closed its side (or on an error).</returns>
    public int ReceiveTls(TlsConnection tls, bool spin, out string? error)
    {
        if (!MakeRoom(TlsConnection.RecordPlaintext))
        {
            error = OverBudgetMessage();
            return 0;
        }

        TlsWire wire = tls.Wire;
        long sleptFrom = 0;
        if (!wire.HasInput)
        {
            SocketIo.IoStatus status = wire.TryFill(out error);
            if (status == SocketIo.IoStatus.WouldBlock && spin)
            {
                long start = Stopwatch.GetTimestamp();
                status = SpinFill(wire, start, out error);
                sleptFrom = status == SocketIo.IoStatus.WouldBlock ? start : 0;
            }

            if (status == SocketIo.IoStatus.Failed)
            {
                return 0;
            }
        }

        try
        {
            // Waits in the wire's blocking recv if nothing (or only part of a record) has arrived.
            int read = tls.Stream.Read(_buffer.Span[_end..]);
            _end += read;
            if (sleptFrom != 0 && read > 0)
            {
                _spin.Slept(sleptFrom, Stopwatch.GetTimestamp());
            }

            error = null;
            return read;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or System.Security.Authentication.AuthenticationException)
        {
            error = e.InnerException?.Message ?? e.Message;
            return 0;
        }
    }

    /// <summary>Appends what has already arrived from <paramref name="socket"/>, never waiting (room is made first, as for <see cref="Receive"/>).</summary>
    /// <param name="socket">The connection.</param>
    /// <param name="received">The bytes received, when <see cref="SocketIo.IoStatus.Done"/>; 0 is the peer's FIN.</param>
    /// <param name="error">Why, when <see cref="SocketIo.IoStatus.Failed"/>.</param>
    /// <returns>What happened.</returns>
    public SocketIo.IoStatus ReceiveNow(Socket socket, out int received, out string? error)
    {
        if (!MakeRoom())
        {
            received = 0;
            error = OverBudgetMessage();
            return SocketIo.IoStatus.Failed;
        }

        SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.Span[_end..], out received, out error);
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
            SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.Span[_end..], out ready, out error);
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

    private SocketIo.IoStatus SpinFill(TlsWire wire, long start, out string? error)
    {
        long budget = _spin.Begin();
        long end = start + budget;
        do
        {
            Thread.Yield();
            SocketIo.IoStatus status = wire.TryFill(out error);
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
        error = null;
        return SocketIo.IoStatus.WouldBlock;
    }

    public void Dispose()
    {
        ReleaseBuffer();
        _buffer = Memory<byte>.Empty;
        _start = _end = 0;
        Volatile.Write(ref _partialSince, 0);
    }

    private string OverBudgetMessage() =>
        $"a frame needs a larger receive buffer than the {FormatBytes(_budget!.Limit - _budget.Used)} left of the sidecar's receive budget ({FormatBytes(_budget.Limit)})";

    private static string FormatBytes(long bytes) => bytes >= 1024 * 1024 ? $"{bytes / (1024.0 * 1024):0.#} MiB" : $"{bytes / 1024.0:0.#} KiB";

    /// <summary>Makes room to receive into; false if a large frame's buffer does not fit the receive budget.</summary>
    private bool MakeRoom(int minRead = MinReadSize)
    {
        int buffered = _end - _start;

        // The whole next frame must fit, once its length is known (the caller checked it against the limit).
        long needed = buffered + 1;
        if (buffered >= sizeof(uint))
        {
            needed = Math.Max(needed, sizeof(uint) + (long)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.Span[_start..]));
        }

        if (_buffer.Length > BufferSize && needed <= BufferSize)
        {
            // A large frame was decoded: back to a buffer of the usual size.
            return Replace(BufferSize);
        }

        if (needed > _buffer.Length)
        {
            return Replace((int)Math.Min(needed, Array.MaxLength));
        }

        if (_buffer.Length - _end < minRead || _buffer.Length - _start < needed)
        {
            Span<byte> span = _buffer.Span;
            span.Slice(_start, buffered).CopyTo(span);
            _start = 0;
            _end = buffered;
        }

        return true;
    }

    /// <summary>Moves what is buffered to a buffer of <paramref name="size"/>: the pool's for the usual size, a mapped one (from the budget) for a large frame.</summary>
    private bool Replace(int size)
    {
        int buffered = _end - _start;
        Memory<byte> replacement;
        byte[]? pooled = null;
        MappedBuffer? mapped = null;
        if (size <= BufferSize)
        {
            pooled = ArrayPool<byte>.Shared.Rent(size);
            replacement = pooled;
        }
        else
        {
            if (_budget is not null && !_budget.TryTake(size))
            {
                OverBudget = true;
                return false;
            }

            mapped = MappedBuffer.TryMap(size);
            if (mapped is null)
            {
                _budget?.Give(size);
                OverBudget = true;
                return false;
            }

            replacement = mapped.Memory;
        }

        _buffer.Slice(_start, buffered).CopyTo(replacement);
        ReleaseBuffer();
        _pooled = pooled;
        _mapped = mapped;
        _buffer = replacement;
        _start = 0;
        _end = buffered;
        return true;
    }

    private void ReleaseBuffer()
    {
        if (_pooled is { } pooled)
        {
            _pooled = null;
            ArrayPool<byte>.Shared.Return(pooled);
        }

        if (_mapped is { } mapped)
        {
            _mapped = null;
            _budget?.Give(mapped.Length);
            ((IDisposable)mapped).Dispose();
        }
    }
}
