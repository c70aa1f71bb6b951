using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Kaze.Protocol;

namespace Kaze.Sidecar.Corral;

/// <summary>
/// The receiving side of one connection: reads into one pooled buffer (a short polite spin, then a
/// blocking read), and frames decoded in place from it (<see cref="TcpFraming.ReadFrame"/>), many
/// per read when they arrive together.
/// </summary>
/// <remarks>
/// The buffer holds the bytes received and not yet decoded at <c>[_start, _end)</c>. It grows to
/// hold one frame larger than itself (never beyond the frame limit, which <see cref="Next"/>
/// checks as soon as a frame's length has arrived) and shrinks back once that frame is decoded,
/// so one 16 MiB frame does not pin 16 MiB per connection for good. Used by one thread only.
/// </remarks>
internal sealed class FrameReceiver : IDisposable
{
    public const int BufferSize = 64 * 1024;

    // Below this much free space at the end, the undecoded bytes move to the start before a read.
    private const int MinReadSize = 4096;

    // The spin budget before a read sleeps (Stopwatch ticks), between these bounds.
    private static readonly long MinSpinTicks = Stopwatch.Frequency / 100_000;        // 10 µs
    private static readonly long MaxSpinTicks = Stopwatch.Frequency * 3 / 10_000;     // 300 µs

    // A sleep's measured length includes this thread's own wake-up: one kernel wake, with margin.
    private static readonly long WakeAllowanceTicks = Stopwatch.Frequency / 20_000;   // 50 µs
    private const int MaxFutileRestores = 3;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private long _spinTicks = MinSpinTicks;
    private int _futileRestores;
    private int _start;
    private int _end;

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
    /// budget, offering the core to other threads between polls, before it sleeps in recv(2).
    /// </summary>
    /// <param name="socket">The connection.</param>
    /// <param name="error">Why the read failed; null otherwise.</param>
    /// <returns>The bytes received; 0 when the peer has closed its side (or on an error).</returns>
    public int Receive(Socket socket, out string? error)
    {
        MakeRoom();
        SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.AsSpan(_end), out int ready, out error);
        if (status == SocketIo.IoStatus.WouldBlock)
        {
            status = SpinReceive(socket, out ready, out error);
        }

        if (status == SocketIo.IoStatus.Done)
        {
            _end += ready;
            return ready;
        }

        if (status == SocketIo.IoStatus.Failed)
        {
            return 0;
        }

        long sleepStart = Stopwatch.GetTimestamp();
        if (SocketIo.ReceiveBlocking(socket, _buffer.AsSpan(_end), out int received, out error) != SocketIo.IoStatus.Done)
        {
            return 0;
        }

        LearnFromSleep(sleepStart);
        _end += received;
        return received;
    }

    /// <summary>
    /// A read that slept but got its bytes within the longest spin (plus this thread's own wake-up)
    /// would have been served by spinning: restore the full budget, at most a few times until a
    /// spin succeeds (as <c>RingWaiter</c> does). Otherwise a budget that shrank never grows again:
    /// it grows only when a spin succeeds.
    /// </summary>
    private void LearnFromSleep(long sleepStart)
    {
        if (Stopwatch.GetTimestamp() - sleepStart < MaxSpinTicks + WakeAllowanceTicks && _futileRestores < MaxFutileRestores)
        {
            _futileRestores++;
            _spinTicks = MaxSpinTicks;
        }
    }

    /// <summary>
    /// Polls the socket until bytes arrive or the spin budget runs out (WouldBlock). A sleeping
    /// reader costs the next burst a kernel wake-up (tens of µs on a small VM), and in a pipeline
    /// of several threads on two cores those add up per round; a thread that polls politely costs
    /// only cores nobody else wants. The budget grows when polling found bytes and halves when it did not.
    /// </summary>
    private SocketIo.IoStatus SpinReceive(Socket socket, out int ready, out string? error)
    {
        long budget = _spinTicks;
        long end = Stopwatch.GetTimestamp() + budget;
        do
        {
            Thread.Yield();
            SocketIo.IoStatus status = SocketIo.TryReceive(socket, _buffer.AsSpan(_end), out ready, out error);
            if (status == SocketIo.IoStatus.Done)
            {
                _spinTicks = Math.Min(MaxSpinTicks, budget + (budget >> 1) + MinSpinTicks);
                _futileRestores = 0;
            }

            if (status != SocketIo.IoStatus.WouldBlock)
            {
                return status;
            }
        }
        while (Stopwatch.GetTimestamp() < end);

        _spinTicks = Math.Max(MinSpinTicks, budget >> 1);
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
