using Kaze.Protocol;

namespace Kaze.Mesh.Connections;

/// <summary>
/// The receiving side of one connection, once its handshake is done: reads (spinning briefly,
/// then sleeping in a blocking read; see <see cref="FrameReceiver"/>), decodes every frame that
/// arrived and delivers the packets itself, in order (<see cref="DeliverDecoded"/>), on the
/// connection's thread — or on the host edge's reader while the reads are lent to it
/// (<see cref="ReadLender"/>).
/// </summary>
/// <remarks>
/// A connection is read by one thread at a time: the loan state moves Own → Lent (the
/// connection's thread) → Reading → Lent (the edge's reader, around each read) → Own (whoever
/// ends the loan), by compare-and-swap. The socket is not read while packets are delivered, so a
/// receiver that stalls holds the peer back through TCP's flow control.
/// </remarks>
internal sealed class PeerReceiver : IDisposable
{
    // The reads' owner: the connection's thread; lent to the edge's reader; being read by it.
    private const int LoanOwn = 0;
    private const int LoanLent = 1;
    private const int LoanReading = 2;

    private readonly PeerConnection _connection;

    // Used by the connection's thread, or by the edge's reader while the reads are lent (see Lend).
    private readonly FrameReceiver _frames;

    // Packets decoded from one read, delivered in order by the thread that read them (as _frames).
    private readonly List<Packet> _decoded = [];

    // Not disposed: the edge's reader may still Set it after the connection has ended (without a
    // wait handle, which nothing asks for, it holds no OS resource).
    private readonly ManualResetEventSlim _loanReturned = new(false, spinCount: 0);

    // Who reads the socket (LoanOwn, LoanLent, LoanReading; Interlocked), and how a loan ended.
    private int _loan;
    private bool _lentFin;
    private ConnectionFailure? _lentFailure;
    private string? _lentReason;
    private bool _quietAfterLoan;

    public PeerReceiver(PeerConnection connection)
    {
        _connection = connection;
        _frames = new FrameReceiver(connection.Corral.ReceiveBudget);
    }

    /// <summary>Environment.TickCount64 when the frame now partly received began to arrive; 0 when none is (see <see cref="CorralOptions.FrameTimeout"/>).</summary>
    public long PartialFrameSince => _frames.PartialSince;

    /// <summary>
    /// The next frame of the handshake (at most <see cref="Handshake.MaxHandshakeFrameSize"/>), on
    /// the connection's thread; null when the connection failed or closed, with why (the frame
    /// failure to count it under, and the reason in words).
    /// </summary>
    public Packet? ReadHandshakeFrame(out ConnectionFailure failure, out string? reason)
    {
        bool completed = false;
        while (true)
        {
            TcpFrameReadResult frame = _frames.Next(Handshake.MaxHandshakeFrameSize, completed, out int length);
            if (frame.IsComplete)
            {
                _frames.NoteProgress();
                _connection.CountIn(length, null);
                failure = default;
                reason = null;
                return frame.Packet;
            }

            if (frame.Status == TcpFrameStatus.Invalid)
            {
                failure = Classify(frame.Error);
                reason = $"{frame.Error.ToMessage()} (during the handshake)";
                return null;
            }

            if (completed)
            {
                failure = ConnectionFailure.PeerClosed;
                reason = "the peer closed the connection during the handshake";
                return null;
            }

            _frames.NoteProgress();
            string? error = ReceiveMore(out completed, out failure);
            if (error is not null)
            {
                reason = $"the connection failed during the handshake: {error}";
                return null;
            }
        }
    }

    /// <summary>
    /// Reads, decodes and delivers until the connection ends, on the connection's thread (lending
    /// the reads to the edge's reader while it polls). Returns once the peer's FIN was handled
    /// (the graceful close begun) or the connection failed.
    /// </summary>
    public void ReadLoop()
    {
        // TLS reads are never lent: a record that arrived in part would make the edge's reader wait.
        ReadLender? lender = _connection.Tls is null ? _connection.Corral.Lender : null;
        bool completed = false;
        while (true)
        {
            // What arrived before a bad frame or the peer's FIN is delivered too.
            if (!DecodeAndDeliver(completed, out ConnectionFailure failure, out string? reason))
            {
                _connection.Fail(failure, reason!);
                return;
            }

            if (completed)
            {
                // The peer's FIN: everything it sent is decoded. Finish our side gracefully.
                _connection.ClosedByPeer();
                return;
            }

            if (lender is not null && Lend(lender))
            {
                // The edge's reader read and delivered while it had the socket; it gave it back
                // on its sleep, or on something only this thread handles.
                if (_lentFailure is { } lentFailure)
                {
                    _connection.Fail(lentFailure, _lentReason!);
                    return;
                }

                completed = _lentFin;
                continue;
            }

            string? error = ReceiveMore(out completed, out ConnectionFailure readFailure, spin: !_quietAfterLoan);
            _quietAfterLoan = false;
            if (error is not null)
            {
                _connection.Fail(readFailure, error);
                return;
            }
        }
    }

    /// <summary>
    /// On the edge's reader (<see cref="ReadLender.Poll"/>): if the reads are lent, receives what
    /// has arrived without waiting and decodes and delivers it; true if anything was delivered or
    /// the loan ended. Anything but packets (FIN, an error, a bad frame) ends the loan, for the
    /// connection's thread to handle.
    /// </summary>
    public bool ReadWhileLent()
    {
        if (Interlocked.CompareExchange(ref _loan, LoanReading, LoanLent) != LoanLent)
        {
            return false;
        }

        bool giveBack = true;
        try
        {
            SocketIo.IoStatus status = _frames.ReceiveNow(_connection.Socket!, out int received, out string? error);
            if (status == SocketIo.IoStatus.WouldBlock)
            {
                giveBack = false;
                return false;
            }

            if (status == SocketIo.IoStatus.Failed)
            {
                _lentFailure = _frames.OverBudget ? ConnectionFailure.ReceiveBudget : ConnectionFailure.PeerClosed;
                _lentReason = error ?? "the connection failed";
                return true;
            }

            if (received == 0)
            {
                _lentFin = true;
                return true;
            }

            _connection.MarkActive();
            if (DecodeAndDeliver(completed: false, out ConnectionFailure failure, out string? reason))
            {
                giveBack = false;
            }
            else
            {
                _lentFailure = failure;
                _lentReason = reason;
            }

            return true;
        }
        catch (Exception e)
        {
            // A bug: the connection's thread ends the connection, as for one on its own thread.
            CorralLog.Unexpected(_connection.Corral.Logger, e, _connection.Describe());
            _lentFailure = ConnectionFailure.PeerClosed;
            _lentReason = e.Message;
            return true;
        }
        finally
        {
            if (giveBack)
            {
                EndLoan();
            }
            else
            {
                Volatile.Write(ref _loan, LoanLent);
            }
        }
    }

    /// <summary>On the edge's reader, before it sleeps: gives lent reads back to the connection's thread.</summary>
    public void ReturnLoan()
    {
        // The edge's reader found nothing here or in the ring for a whole spin: the next read
        // sleeps at once instead of polling the same quiet socket again. Written before the
        // state, which publishes it (if the reads were taken back meanwhile, it only spares
        // one read's polling).
        _quietAfterLoan = true;
        if (Interlocked.CompareExchange(ref _loan, LoanOwn, LoanLent) == LoanLent)
        {
            _connection.Corral.Lender?.Remove(this);
            _loanReturned.Set();
        }
    }

    /// <summary>Returns the buffer to the pool; only once nothing reads any more (the reads are the connection's thread's).</summary>
    public void Dispose() => _frames.Dispose();

    private static ConnectionFailure Classify(DecodeError error) => error switch
    {
        DecodeError.FrameTooLarge => ConnectionFailure.FrameTooLarge,
        DecodeError.Truncated => ConnectionFailure.PeerClosed,
        _ => ConnectionFailure.BadFrame,
    };

    /// <summary>
    /// Decodes every complete frame received and delivers the packets; false, with why, when the
    /// connection must fail (a bad frame, or a handshake frame after the handshake: what came
    /// before it is delivered).
    /// </summary>
    private bool DecodeAndDeliver(bool completed, out ConnectionFailure failure, out string? reason)
    {
        int maxFrame = _connection.MaxFrameSize;
        var session = _connection.Session;
        // With TLS, the only srcIdent a peer that may not relay can send: its certificate's (0: any).
        uint bound = _connection.Tls?.Peer is { Relay: false, Ident: { } certified } ? certified.Value : 0;
        TcpFrameReadResult frame;
        while ((frame = _frames.Next(maxFrame, completed, out int length)).IsComplete)
        {
            _connection.CountIn(length, session);
            Packet packet = frame.Packet;
            if (packet.Header.BodyType is Handshake.HelloBodyType or Handshake.AuthBodyType)
            {
                string bodyType = packet.Header.BodyType;
                packet.Dispose();
                DeliverDecoded();
                failure = ConnectionFailure.BadFrame;
                reason = $"a {bodyType} frame after the handshake";
                return false;
            }

            if (bound != 0 && packet.Header.SrcIdent != bound)
            {
                // Identity binding: a peer speaks for itself unless its certificate allows relaying.
                _connection.Corral.DroppedSpoofed(_connection.Describe(), packet.Header.SrcIdent);
                packet.Dispose();
                continue;
            }

            _decoded.Add(packet);
        }

        DeliverDecoded();
        _frames.NoteProgress();
        if (frame.Status == TcpFrameStatus.Invalid)
        {
            failure = Classify(frame.Error);
            reason = frame.Error == DecodeError.FrameTooLarge
                ? $"{frame.Error.ToMessage()} ({maxFrame} bytes)"
                : frame.Error.ToMessage();
            return false;
        }

        failure = default;
        reason = null;
        return true;
    }

    /// <summary>
    /// Delivers the packets decoded from one read, in order, on this thread, then clears the list.
    /// The socket is not read meanwhile, so a receiver that stalls (a full host ring is not one:
    /// the edge queues) holds the peer back through TCP's flow control. What the handlers send
    /// back while these are delivered is written once they all are (one send per peer).
    /// </summary>
    private void DeliverDecoded()
    {
        if (_decoded.Count == 0)
        {
            return;
        }

        Sessions.SendBatch.Begin();
        try
        {
            Ident from = _connection.Session!.Ident;
            foreach (Packet packet in _decoded)
            {
                _connection.Corral.Deliver(packet, from);
            }
        }
        catch (Exception e)
        {
            // Deliver catches the handler's exceptions: this is a bug in the corral.
            CorralLog.Unexpected(_connection.Corral.Logger, e, _connection.Describe());
        }
        finally
        {
            Sessions.SendBatch.End();
            _decoded.Clear();
        }
    }

    /// <summary>Waits until bytes arrive; null, or why the read failed (the connection is then over).</summary>
    private string? ReceiveMore(out bool completed, out ConnectionFailure failure, bool spin = true)
    {
        int received = _connection.Tls is { } tls
            ? _frames.ReceiveTls(tls, spin, out string? error)
            : _frames.Receive(_connection.Socket!, spin, out error);
        if (error is not null)
        {
            completed = true;
            failure = _frames.OverBudget ? ConnectionFailure.ReceiveBudget : ConnectionFailure.PeerClosed;
            return error;
        }

        failure = default;

        completed = received == 0;
        if (!completed)
        {
            _connection.MarkActive();
        }

        return null;
    }

    /// <summary>
    /// If the edge's reader polls, lends it this connection's reads and sleeps until they come
    /// back (see <see cref="ReadLender"/>); true then, with how the loan ended in the _lent*
    /// fields. False if nothing was lent, or the edge's reader stopped polling and the reads were
    /// taken back: the caller reads for itself.
    /// </summary>
    private bool Lend(ReadLender lender)
    {
        if (!lender.IsPolling)
        {
            return false;
        }

        _lentFin = false;
        _lentFailure = null;
        _lentReason = null;
        _quietAfterLoan = false;
        Volatile.Write(ref _loan, LoanLent);
        bool done = false;
        try
        {
            lender.Add(this);

            // Pairs with Sleeping (which clears "awake", then looks at the lent list): either it
            // sees this connection, or this sees it asleep and takes the reads back.
            Interlocked.MemoryBarrier();
            if (!lender.IsPolling && TryReclaim(lender))
            {
                done = true;
                return false;
            }

            while (true)
            {
                _loanReturned.Wait(lender.UntilStale);
                _loanReturned.Reset();
                if (Volatile.Read(ref _loan) == LoanOwn)
                {
                    // Given back by the edge's reader, which wrote the outcome first.
                    done = true;
                    return true;
                }

                if (!lender.PolledRecently && TryReclaim(lender))
                {
                    done = true;
                    return false;
                }
            }
        }
        finally
        {
            if (!done)
            {
                // Leaving on an exception: the reads must be this thread's again before the
                // connection ends and its buffer goes back to the pool.
                while (Volatile.Read(ref _loan) != LoanOwn && !TryReclaim(lender))
                {
                    Thread.Yield();
                }
            }
        }
    }

    private bool TryReclaim(ReadLender lender)
    {
        if (Interlocked.CompareExchange(ref _loan, LoanOwn, LoanLent) != LoanLent)
        {
            // Being read right now, or given back already (the wait then sees it).
            return false;
        }

        lender.Remove(this);
        return true;
    }

    // The edge's reader, done with a read that ends the loan (the outcome fields are written).
    private void EndLoan()
    {
        _connection.Corral.Lender?.Remove(this);
        Volatile.Write(ref _loan, LoanOwn);
        _loanReturned.Set();
    }
}
