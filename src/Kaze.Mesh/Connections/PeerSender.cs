using System.Diagnostics;
using System.Net.Sockets;
using Kaze.Mesh.Sessions;
using Kaze.Mesh.Tls;
using Kaze.Protocol;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The sending side of one connection: encodes queued packets into one buffer and writes it,
/// many frames per send. Whoever holds the connection's right to write (<see cref="PeerConnection.Writing"/>,
/// guarded by the session's lock, see <see cref="PeerSession"/>) runs it: a sender that found the
/// queue empty (<see cref="SendInline"/>), a thread's batch (<see cref="EndHold"/>), or the
/// connection's writer thread.
/// </summary>
/// <remarks>
/// <para>
/// Only the writer thread ever waits on the socket. Anyone else writes without blocking
/// (<see cref="SocketIo.TrySend"/>) and hands the right to the writer thread when the socket's
/// buffer is full, for a burst (<see cref="WriteLater"/>), and once it has written a few batches
/// for others. The writer thread is started on the first such hand-over.
/// </para>
/// <para>
/// The write side ends once the right is given up for good (<see cref="FinishWrites"/>): the
/// holder finishes the batch it is sending and shuts the socket's write side down (FIN).
/// </para>
/// </remarks>
internal sealed class PeerSender : IDisposable
{
    // A sender that found the queue empty writes at most this many more batches that others queued
    // meanwhile before it hands the rest to the writer thread: a caller is never held up for long.
    private const int MaxInlineBatches = 4;

    private readonly PeerConnection _connection;

    // Used during the handshake by the connection's thread, then by the holder of the right to write.
    private readonly SendBuffer _output = new();
    private readonly List<QueuedPacket> _inFlight = [];
    private readonly List<QueuedPacket> _batch = [];
    private readonly List<QueuedPacket> _tooLarge = [];

    // Set once the right to write was given up for good, the write side shut down (FIN).
    private readonly ManualResetEventSlim _writesDone = new(false);

    // Set to hand the right to write to the writer thread, and to end it. Without a spin: the
    // thread is woken only when there is work, and spinning would cost CPU the senders need.
    private readonly ManualResetEventSlim _writerSignal = new(false, spinCount: 0);
    private Thread? _writer;
    private volatile bool _writerExit;

    // Bytes at the start of _output already sent; the holder of the right to write only.
    private int _outputSent;

    // Why the last send failed; the holder of the right to write only.
    private string? _sendError;

    // Stopwatch timestamp of the last completed write; for bursts (CorralOptions.BurstWindow).
    private long _lastSend;

    public PeerSender(PeerConnection connection)
    {
        _connection = connection;
    }

    /// <summary>Why the last send failed (after <see cref="SendHandshakeFrame"/> returned false).</summary>
    public string? SendError => _sendError;

    /// <summary>
    /// Writes one handshake frame on the connection's thread, blocking until it is sent; false
    /// when the connection failed (<see cref="SendError"/> says why).
    /// </summary>
    public bool SendHandshakeFrame(Hdr header, ReadOnlySpan<byte> body)
    {
        _output.Reset();
        TcpFraming.Write(_output, header, body);
        _outputSent = 0;
        if (Flush(blocking: true) != SocketIo.IoStatus.Done)
        {
            return false;
        }

        _connection.CountOut(_output.WrittenCount, 1, null);
        _output.Reset();
        _outputSent = 0;
        return true;
    }

    /// <summary>
    /// Writes <paramref name="item"/> now, without blocking; called by <see cref="PeerSession.TrySend"/>
    /// on the sender's thread with the right to write taken for it. The connection owns the packet.
    /// </summary>
    public void SendInline(QueuedPacket item)
    {
        Encode(item);
        Drain(blocking: false);
    }

    /// <summary>Writes what was queued (before this connection was in use, or during a batch); called with the right to write taken for it.</summary>
    public void DrainQueued() => Drain(blocking: false);

    /// <summary>
    /// <paramref name="batch"/> ends: writes what it kept queued for this connection, if it still
    /// keeps the right to write, on this thread, in one send (without blocking: a full socket buffer
    /// passes the rest to the writer thread). A failure here ends this connection only: the batch
    /// goes on to its other connections.
    /// </summary>
    public void EndHold(SendBatch batch)
    {
        try
        {
            if (_connection.Session!.EndHold(_connection, batch) >= 0)
            {
                Drain(blocking: false);
            }
        }
        catch (Exception e)
        {
            FailWhileWriting(e);
        }
    }

    /// <summary>
    /// Called with the right to write taken for it, for a burst: the writer thread writes what is
    /// queued, with what follows meanwhile, and the sender goes on.
    /// </summary>
    public void WriteLater() => HandToWriter();

    /// <summary>True if the last write completed less than <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks) ago.</summary>
    public bool WroteWithin(long ticks) => ticks > 0 && Stopwatch.GetTimestamp() - Volatile.Read(ref _lastSend) < ticks;

    /// <summary>The right to write is given up for good: tell the peer nothing more comes (FIN).</summary>
    public void FinishWrites()
    {
        try
        {
            _connection.Socket?.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _writesDone.Set();
    }

    /// <summary>Waits until the write side has ended (<see cref="FinishWrites"/>), at most <paramref name="timeout"/>.</summary>
    public bool WaitWritesDone(TimeSpan timeout) => _writesDone.Wait(timeout);

    /// <summary>Ends the writer thread (if any) once it has nothing left to do.</summary>
    public void StopWriter()
    {
        _writerExit = true;
        _writerSignal.Set();
    }

    /// <summary>Returns the buffer to the pool; only once nothing writes any more.</summary>
    public void Dispose() => _output.Dispose();

    /// <summary>
    /// A bug met while holding the right to write (network conditions are handled where they
    /// happen): ends the connection, hands what it was writing to <c>onUndeliverable</c>, and gives
    /// the write side up for good, so that the connection's end does not wait for it.
    /// </summary>
    private void FailWhileWriting(Exception e)
    {
        CorralLog.Unexpected(_connection.Corral.Logger, e, _connection.Describe());
        _connection.Fail(ConnectionFailure.PeerClosed, e.Message);
        if (_connection.Session is { } session)
        {
            // A packet encoded before the failure is in both lists: hand it on once.
            var encoded = new HashSet<Packet>(_inFlight.Count);
            foreach (QueuedPacket item in _inFlight)
            {
                encoded.Add(item.Packet);
            }

            _batch.RemoveAll(item => encoded.Contains(item.Packet));
            string reason = $"the connection with {session.Ident} failed while sending";
            ReportUndeliverable(session, _inFlight, reason, deferred: true);
            ReportUndeliverable(session, _batch, reason, deferred: true);
            ReportUndeliverable(session, _tooLarge, reason, deferred: true);
        }

        FinishWrites();
    }

    /// <summary>
    /// Called with the right to write held: sends what <see cref="_output"/> holds, then the batches
    /// the session still has, until there are none (the right is then given up) or the connection
    /// closes (the write side is then shut down). Only the writer thread (<paramref name="blocking"/>)
    /// waits for room in the socket's buffer; anyone else passes the right to it when the buffer is
    /// full. A sender's thread also passes the right on (to the writer thread) once it has written a
    /// few batches for others.
    /// </summary>
    private void Drain(bool blocking)
    {
        PeerSession session = _connection.Session!;
        int batches = 0;
        while (true)
        {
            if (_tooLarge.Count > 0)
            {
                ReportUndeliverable(session, _tooLarge, $"the frame is over {session.Ident}'s maximum frame size of {_connection.MaxFrameSize} bytes", deferred: !blocking);
            }

            if (_outputSent < _output.WrittenCount || _connection.Tls is { Wire.HasOutput: true })
            {
                SocketIo.IoStatus status = Flush(blocking);
                if (status == SocketIo.IoStatus.WouldBlock)
                {
                    HandToWriter();
                    return;
                }

                if (status == SocketIo.IoStatus.Done)
                {
                    _connection.CountOut(_output.WrittenCount, _inFlight.Count, session);
                    foreach (QueuedPacket item in _inFlight)
                    {
                        item.Packet.Dispose();
                    }

                    _inFlight.Clear();
                }
                else
                {
                    // Whether any of these reached the peer is unknown; a requester hears UNREACHABLE
                    // now rather than waiting for its timeout.
                    ReportUndeliverable(session, _inFlight, $"the connection with {session.Ident} failed while sending", deferred: !blocking);
                    _connection.Fail(ConnectionFailure.PeerClosed, _sendError ?? "the send failed");
                }

                _output.Reset();
                _outputSent = 0;
            }

            WriteStep step = session.TakeNext(_connection, _batch);
            if (step == WriteStep.Released)
            {
                return;
            }

            if (step == WriteStep.Finish)
            {
                FinishWrites();
                return;
            }

            foreach (QueuedPacket item in _batch)
            {
                Encode(item);
            }

            _batch.Clear();
            if (!blocking && ++batches > MaxInlineBatches && _output.WrittenCount > 0)
            {
                HandToWriter();
                return;
            }
        }
    }

    private void Encode(QueuedPacket item)
    {
        // The limit is on the total length field, which counts 4 bytes less than the frame.
        if (item.FrameSize - sizeof(uint) > _connection.MaxFrameSize)
        {
            CorralLog.TooLargeForPeer(_connection.Corral.Logger, _connection.Session!.Ident, item.FrameSize, _connection.MaxFrameSize);
            _tooLarge.Add(item);
            return;
        }

        TcpFraming.Write(_output, item.Packet);
        _inFlight.Add(item);
    }

    private static void ReportUndeliverable(PeerSession session, List<QueuedPacket> items, string reason, bool deferred)
    {
        if (items.Count == 0)
        {
            return;
        }

        var packets = new List<QueuedPacket>(items);
        items.Clear();
        if (deferred)
        {
            // Never from inside TrySend: the callback may send, and the caller may hold its own locks.
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Session.Undeliverable(state.Packets, state.Reason), (Session: session, Packets: packets, Reason: reason), preferLocal: false);
        }
        else
        {
            session.Undeliverable(packets, reason);
        }
    }

    /// <summary>
    /// Sends what <see cref="_output"/> holds from <see cref="_outputSent"/> on: all of it (Done),
    /// until the socket's buffer is full (WouldBlock, only when not <paramref name="blocking"/>),
    /// or until the connection fails (Failed, <see cref="_sendError"/> says why).
    /// </summary>
    private SocketIo.IoStatus Flush(bool blocking)
    {
        if (_connection.Tls is { } tls)
        {
            return FlushTls(tls, blocking);
        }

        Socket socket = _connection.Socket!;
        ReadOnlySpan<byte> data = _output.WrittenSpan;
        while (_outputSent < data.Length)
        {
            // The socket is blocking: a blocking send waits for room in its buffer.
            SocketIo.IoStatus status = blocking
                ? SocketIo.SendBlocking(socket, data[_outputSent..], out int sent, out _sendError)
                : SocketIo.TrySend(socket, data[_outputSent..], out sent, out _sendError);
            if (status != SocketIo.IoStatus.Done)
            {
                return status;
            }

            Interlocked.Increment(ref _connection.Corral.Counters.Sends);
            _connection.MarkActive();
            _outputSent += sent;
        }

        Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        return SocketIo.IoStatus.Done;
    }

    /// <summary>
    /// As <see cref="Flush"/>, through TLS: what <see cref="_output"/> holds is encrypted in one
    /// SslStream write (records of up to 16 KiB), then the ciphertext is sent as the socket allows
    /// (<see cref="TlsWire.SendPending"/>); what is not sent yet waits in the wire.
    /// </summary>
    private SocketIo.IoStatus FlushTls(TlsConnection tls, bool blocking)
    {
        if (_outputSent < _output.WrittenCount)
        {
            try
            {
                System.Runtime.InteropServices.MemoryMarshal.TryGetArray(_output.WrittenMemory, out ArraySegment<byte> written);
                tls.Stream.Write(written.Array!, written.Offset + _outputSent, written.Count - _outputSent);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
            {
                _sendError = e.InnerException?.Message ?? e.Message;
                return SocketIo.IoStatus.Failed;
            }

            _outputSent = _output.WrittenCount;
        }

        SocketIo.IoStatus status = tls.Wire.SendPending(blocking, out int sends, out _sendError);
        if (sends > 0)
        {
            Interlocked.Add(ref _connection.Corral.Counters.Sends, sends);
            _connection.MarkActive();
        }

        if (status == SocketIo.IoStatus.Done)
        {
            tls.Wire.TrimOutput();
            Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        }

        return status;
    }

    /// <summary>Gives the right to write (and what <see cref="_output"/> holds) to the writer thread, starting it the first time.</summary>
    private void HandToWriter()
    {
        // Only the holder of the right gets here, so the thread is started once; it is recorded
        // only once started, so a start that failed is not mistaken for a writer.
        if (_writer is null)
        {
            var writer = new Thread(static state => ((PeerSender)state!).WriteLoop())
            {
                IsBackground = true,
                Name = "kaze-peer-write",
            };
            try
            {
                writer.UnsafeStart(this);
            }
            catch (Exception e) when (e is ThreadStartException or OutOfMemoryException)
            {
                // No thread to take the right over (a process or container out of threads).
                FailWhileWriting(e);
                return;
            }

            _writer = writer;
        }

        _writerSignal.Set();
    }

    private void WriteLoop()
    {
        while (true)
        {
            // No hand-over can come between the reset and Drain giving the right up: only the
            // holder of the right hands it over, and this thread holds it until then.
            _writerSignal.Wait();
            _writerSignal.Reset();
            if (_writerExit)
            {
                return;
            }

            try
            {
                Drain(blocking: true);
            }
            catch (Exception e)
            {
                FailWhileWriting(e);
                return;
            }
        }
    }
}
