using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kaze.Mesh.Sessions;
using Kaze.Protocol;
using Kaze.Resolver;
using Microsoft.Extensions.Logging;

namespace Kaze.Mesh.Connections;

/// <summary>How a connection came to be closed on purpose.</summary>
internal enum CloseKind
{
    /// <summary>A failure, counted under its <see cref="ConnectionFailure"/>.</summary>
    Failure,

    /// <summary>Another connection with the same peer is kept; counted as <see cref="ConnectionFailure.Duplicate"/>.</summary>
    Duplicate,

    /// <summary>Nothing moved for the idle timeout; counted as idle, not as a failure.</summary>
    Idle,

    /// <summary>The corral shuts down; not counted.</summary>
    Shutdown,
}

/// <summary>Where an outbound connection goes: the resolved addresses, tried in order, and when it must have connected.</summary>
internal sealed record DialTarget(NodeAddress Address, IPAddress[] Addresses, long Deadline);

/// <summary>
/// One TCP connection with another sidecar. Its own thread connects (outbound), runs the handshake,
/// then reads (spinning briefly, then sleeping in a blocking read; see <see cref="FrameReceiver"/>),
/// decodes every frame that arrived and delivers the packets itself, in order (<see cref="DeliverDecoded"/>).
/// Writes are made by whoever sends: the caller of
/// <see cref="PeerCorral.TrySend"/> writes its frame straight to the socket without blocking when
/// nothing else is being written; packets that queue meanwhile are written by the thread that holds
/// the right to write, many frames per send. No thread-pool thread is on the data path.
/// </summary>
/// <remarks>
/// <para>
/// The right to write (<see cref="Writing"/>, guarded by the session's lock, see
/// <see cref="PeerSession"/>) is held by one thread at a time: a sender that found the queue empty,
/// a thread's batch (<see cref="SendBatch"/>), or the connection's writer thread. The writer takes
/// over when the socket's buffer is full (the peer reads slowly; it is the only one that ever blocks
/// on a send), for a burst (<see cref="WriteLater"/>), and when a sender has written a few batches
/// for others. It is started on the first such hand-over. The socket stays in blocking mode (see <see cref="SocketIo"/>).
/// </para>
/// <para>
/// Ending: the first reason recorded wins (<see cref="TryEnd"/>); it is counted and logged once.
/// A bad frame, a failed write or a failed handshake aborts the socket at once. Any other end is
/// graceful: the holder of the right to write finishes the batch it is sending, shuts down the
/// write side (FIN), and the reader goes on delivering until the peer's FIN, so nothing either side
/// wrote before its FIN is lost. <see cref="CorralOptions.CloseTimeout"/> bounds that; then the
/// socket is aborted.
/// </para>
/// </remarks>
internal sealed class PeerConnection : IHandshakeTransport
{
    // A sender that found the queue empty writes at most this many more batches that others queued
    // meanwhile before it hands the rest to the writer thread: a caller is never held up for long.
    private const int MaxInlineBatches = 4;

    // The reads' owner: the connection's thread; lent to the edge's reader; being read by it.
    private const int LoanOwn = 0;
    private const int LoanLent = 1;
    private const int LoanReading = 2;

    private const int HandshakeRunning = 0;
    private const int HandshakeFinished = 1;
    private const int HandshakeTimedOut = 2;

    private readonly PeerCorral _corral;

    // For an outbound connection: the session that dialled, and where to connect.
    private readonly PeerSession? _dialledFor;
    private readonly DialTarget? _dial;

    // Used by the connection's thread, or by the edge's reader while the reads are lent (see Lend).
    private readonly FrameReceiver _receiver = new();

    // Used during the handshake by the connection's thread, then by the holder of the right to write.
    private readonly SendBuffer _output = new();
    private readonly List<QueuedPacket> _inFlight = [];
    private readonly List<QueuedPacket> _batch = [];
    private readonly List<QueuedPacket> _tooLarge = [];

    // Bytes at the start of _output already sent; the holder of the right to write only.
    private int _outputSent;

    // Why the last send failed; the holder of the right to write only.
    private string? _sendError;

    // Cancelled (after the close timeout) to abort the socket.
    private readonly CancellationTokenSource _closeDeadline = new();

    // Set once the right to write was given up for good, the write side shut down (FIN).
    private readonly ManualResetEventSlim _writesDone = new(false);

    // Set to hand the right to write to the writer thread, and to end it. Without a spin: the
    // thread is woken only when there is work, and spinning would cost CPU the senders need.
    private readonly ManualResetEventSlim _writerSignal = new(false, spinCount: 0);
    private Thread? _writer;
    private volatile bool _writerExit;

    // Packets decoded from one read, delivered in order by the thread that read them (as _receiver).
    private readonly List<Packet> _decoded = [];

    // Who reads the socket (LoanOwn, LoanLent, LoanReading; Interlocked), and how a loan ended.
    private int _loan;
    // Not disposed: the edge's reader may still Set it after the connection has ended (without a
    // wait handle, which nothing asks for, it holds no OS resource).
    private readonly ManualResetEventSlim _loanReturned = new(false, spinCount: 0);
    private bool _lentFin;
    private ConnectionFailure? _lentFailure;
    private string? _lentReason;
    private bool _quietAfterLoan;

    // Completed when the connection's thread has finished.
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Null for an outbound connection until connect(2) starts; replaced per address tried.
    private Socket? _socket;

    // Set once a frame of the handshake names the peer (for logs); the session once established.
    private volatile string? _peer;
    private PeerSession? _session;

    // 0 until the first reason to end is recorded (Interlocked), then 1.
    private int _ended;

    // Set before the right to write is given up for good: when closing, and when aborted.
    private volatile bool _stopWriting;

    // Set once the handshake completed.
    private volatile bool _established;

    // Environment.TickCount64 of the last bytes read or written; for the idle timeout.
    private long _lastActivity;

    // Stopwatch timestamp of the last completed write; for bursts (CorralOptions.BurstWindow).
    private long _lastSend;

    // 1 once the socket was aborted.
    private int _aborted;

    // 1 once an outbound connection told its session that the dial failed; once per connection.
    private int _dialReported;

    // HandshakeRunning, then HandshakeFinished or HandshakeTimedOut (Interlocked).
    private int _handshakeState;

    // Frames the handshake has started to read: 1 while it waits for the hello, 2 for the proof.
    private int _handshakeReads;

    private volatile bool _connectTimedOut;

    public PeerConnection(PeerCorral corral, Socket? socket, ConnectionDirection direction, PeerSession? dialledFor, DialTarget? dial = null)
    {
        _corral = corral;
        _socket = socket;
        Direction = direction;
        _dialledFor = dialledFor;
        _dial = dial;
        if (socket is not null)
        {
            RemoteEndPoint = RemoteOf(socket);
        }

        _lastActivity = Environment.TickCount64;
        _closeDeadline.Token.UnsafeRegister(static state => ((PeerConnection)state!).Abort(), this);
    }

    public ConnectionDirection Direction { get; }

    public IPEndPoint? RemoteEndPoint { get; private set; }

    /// <summary>The frame limit agreed in the handshake: the smaller of both sides' maximum.</summary>
    public int MaxFrameSize { get; private set; } = Handshake.MaxHandshakeFrameSize;

    public bool StopWriting => _stopWriting;

    public bool IsEstablished => _established;

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public bool IsEnding => Volatile.Read(ref _ended) != 0;

    /// <summary>The right to write to the socket is held; guarded by the session's lock.</summary>
    internal bool Writing { get; set; }

    /// <summary>The thread's batch that keeps the right to write (<see cref="SendBatch"/>), or null; guarded by the session's lock.</summary>
    internal SendBatch? HeldBy { get; set; }

    /// <summary>"address (ident X)", for logs.</summary>
    public string Describe() =>
        $"{RemoteEndPoint?.ToString() ?? _dial?.Address.ToString() ?? "?"} (ident {_peer ?? "unknown"})";

    /// <summary>Starts the connection's thread, which runs it to its end.</summary>
    /// <returns>A task that completes when the connection has ended.</returns>
    public Task Start()
    {
        var thread = new Thread(static state => ((PeerConnection)state!).Run())
        {
            IsBackground = true,
            Name = "kaze-peer-read",
        };
        thread.UnsafeStart(this);
        return _completion.Task;
    }

    /// <summary>
    /// Ends the connection gracefully (or at once if it has not completed its handshake) for a
    /// reason decided here: a duplicate, the idle timeout, shutdown.
    /// </summary>
    public void RequestClose(CloseKind kind, string reason)
    {
        // The failure argument counts only for CloseKind.Failure, which callers here never pass.
        if (!TryEnd(kind, ConnectionFailure.Duplicate, reason))
        {
            return;
        }

        if (!_established)
        {
            Abort();
            return;
        }

        BeginGracefulClose();
    }

    private void BeginGracefulClose()
    {
        if (_session is { } session)
        {
            StopWrites(session);
        }
        else
        {
            _stopWriting = true;
        }

        try
        {
            _closeDeadline.CancelAfter(_corral.Options.CloseTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Run()
    {
        try
        {
            if (_dial is not null && !Connect())
            {
                return;
            }

            HandshakeResult? handshake = RunHandshake();
            if (handshake is null)
            {
                return;
            }

            PeerHello hello = handshake.Hello!;
            MaxFrameSize = handshake.MaxFrameSize;
            _session = _corral.GetSession(hello.Ident);

            // The idle clock starts now, however long the handshake took.
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            _established = true;
            Interlocked.Increment(ref _corral.Counters.Established);
            Interlocked.Increment(ref _corral.Counters.Open);
            CorralLog.Connected(_corral.Logger, Describe(), Direction, hello.Version, MaxFrameSize);

            // A session left unused for long is dropped by the idle sweep; take a fresh one then.
            while (!_session.Attach(this, hello.Version))
            {
                _session = _corral.Renew(_session);
            }

            ReadLoop(_session);
        }
        catch (Exception e)
        {
            // A bug, not a network condition: those are handled where they happen.
            CorralLog.Unexpected(_corral.Logger, e, Describe());
            TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, e.Message);
        }
        finally
        {
            Finish();
        }
    }

    // ───────────────────────────── connecting ─────────────────────────────

    /// <summary>Connects to the dial target's addresses in turn (blocking, so the socket stays blocking), within the connect timeout.</summary>
    private bool Connect()
    {
        DialTarget dial = _dial!;
        string? failure = null;
        long remaining = dial.Deadline - Environment.TickCount64;
        if (remaining <= 0)
        {
            _connectTimedOut = true;
        }
        else
        {
            using var timer = new CancellationTokenSource(TimeSpan.FromMilliseconds(remaining));
            using (timer.Token.UnsafeRegister(static state => ((PeerConnection)state!).ConnectTimedOut(), this))
            {
                foreach (IPAddress address in dial.Addresses)
                {
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

                    // A full fence, as Abort's: either Abort sees this socket, or this sees Abort's mark.
                    Interlocked.Exchange(ref _socket, socket);
                    if (Volatile.Read(ref _aborted) != 0)
                    {
                        socket.Dispose();
                        break;
                    }

                    try
                    {
                        socket.Connect(address, dial.Address.Port);
                        failure = null;
                        break;
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        failure = e.Message;
                        socket.Dispose();
                        if (Volatile.Read(ref _aborted) != 0)
                        {
                            break;
                        }
                    }
                }
            }
        }

        // The timer's registration is disposed: its callback has run or never will.
        if (failure is null && !_connectTimedOut && Volatile.Read(ref _aborted) == 0)
        {
            RemoteEndPoint = RemoteOf(_socket!);
            return true;
        }

        // Not a connection yet: nothing to count or log as one; the dial failed.
        Interlocked.Exchange(ref _ended, 1);
        Interlocked.Exchange(ref _dialReported, 1);
        Abort();
        _corral.ConnectFailed(_dialledFor!, dial.Address.ToString(), _connectTimedOut, failure ?? "aborted");
        return false;
    }

    private void ConnectTimedOut()
    {
        _connectTimedOut = true;
        Abort();
    }

    // ───────────────────────────── handshake ─────────────────────────────

    /// <summary>The handshake (<see cref="Handshake.NegotiateAsync"/>) on this thread, with blocking I/O; null when it failed (recorded).</summary>
    private HandshakeResult? RunHandshake()
    {
        CorralOptions options = _corral.Options;
        HandshakeResult result;
        using (var timeout = new CancellationTokenSource(options.HandshakeTimeout))
        using (timeout.Token.UnsafeRegister(static state => ((PeerConnection)state!).OnHandshakeTimeout(), this))
        {
            // The transport below never awaits, so the negotiation has completed when this returns.
            result = Handshake.NegotiateAsync(this, _corral.Self, options, _dialledFor?.Ident, CancellationToken.None).GetAwaiter().GetResult();
        }

        if (Interlocked.CompareExchange(ref _handshakeState, HandshakeFinished, HandshakeRunning) != HandshakeRunning || result.Ended)
        {
            // Timed out, or the transport failed: recorded already.
            return null;
        }

        if (result.Hello is { } hello)
        {
            _peer = hello.Ident.ToString();
        }

        if (result.Refusal != HandshakeRefusal.None)
        {
            Refuse(result.Failure, Wording(result));
            return null;
        }

        return result;
    }

    private string Wording(HandshakeResult result)
    {
        Ident peer = result.Hello?.Ident ?? Ident.Any;
        return result.Refusal switch
        {
            HandshakeRefusal.NotAHello => result.Problem!,
            HandshakeRefusal.OwnIdent => $"the peer says it is {peer}, this sidecar's own ident",
            HandshakeRefusal.NotTheDialledIdent => $"dialled {_dialledFor!.Ident} but the peer says it is {peer} (is the resolver out of date?)",
            HandshakeRefusal.SecretOnlyThere => "the peer requires a shared secret and none is configured here",
            HandshakeRefusal.SecretOnlyHere => "the peer has no shared secret and one is required here",
            HandshakeRefusal.OtherAuthScheme => $"the peer offers auth '{result.Hello!.AuthScheme}', not {Handshake.AuthScheme}",
            HandshakeRefusal.BadAuthFrame => $"expected a {Handshake.AuthBodyType} frame with a {Handshake.ProofSize}-byte proof, got '{result.AuthFrameType}' with {result.AuthFrameLength} bytes",
            HandshakeRefusal.WrongProof => "wrong proof: the peer does not know the shared secret",
            _ => result.Refusal.ToString(),
        };
    }

    private void OnHandshakeTimeout()
    {
        if (Interlocked.CompareExchange(ref _handshakeState, HandshakeTimedOut, HandshakeRunning) != HandshakeRunning)
        {
            return;
        }

        string stage = Volatile.Read(ref _handshakeReads) <= 1 ? "the peer's hello" : "the peer's auth frame";
        Refuse(ConnectionFailure.HandshakeTimeout, $"no {stage} within {_corral.Options.HandshakeTimeout.TotalSeconds:0.###} s");
    }

    ValueTask<bool> IHandshakeTransport.SendAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        _output.Reset();
        TcpFraming.Write(_output, header, body.Span);
        _outputSent = 0;
        if (Flush(blocking: true) != SocketIo.IoStatus.Done)
        {
            Refuse(ConnectionFailure.PeerClosed, $"the connection failed during the handshake: {_sendError}");
            return new ValueTask<bool>(false);
        }

        CountOut(_output.WrittenCount, 1, null);
        _output.Reset();
        _outputSent = 0;
        return new ValueTask<bool>(true);
    }

    ValueTask<Packet?> IHandshakeTransport.ReadAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _handshakeReads);
        bool completed = false;
        while (true)
        {
            TcpFrameReadResult frame = _receiver.Next(Handshake.MaxHandshakeFrameSize, completed, out int length);
            if (frame.IsComplete)
            {
                CountIn(length, null);
                if (_peer is null && frame.Packet.Header.SrcIdent != 0)
                {
                    // The claimed ident, for the log line if the hello is refused.
                    _peer = new Ident(frame.Packet.Header.SrcIdent).ToString();
                }

                return new ValueTask<Packet?>(frame.Packet);
            }

            if (frame.Status == TcpFrameStatus.Invalid)
            {
                Refuse(Classify(frame.Error), $"{frame.Error.ToMessage()} (during the handshake)");
                return new ValueTask<Packet?>((Packet?)null);
            }

            if (completed)
            {
                Refuse(ConnectionFailure.PeerClosed, "the peer closed the connection during the handshake");
                return new ValueTask<Packet?>((Packet?)null);
            }

            string? error = ReceiveMore(out completed);
            if (error is not null)
            {
                Refuse(ConnectionFailure.PeerClosed, $"the connection failed during the handshake: {error}");
                return new ValueTask<Packet?>((Packet?)null);
            }
        }
    }

    private void Refuse(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        Abort();
        ReportDialFailed(failure, reason);
    }

    private void ReportDialFailed(ConnectionFailure failure, string reason)
    {
        if (_dialledFor is not null && Interlocked.Exchange(ref _dialReported, 1) == 0)
        {
            _dialledFor.DialFailed(failure, reason);
        }
    }

    // ───────────────────────────── reading ─────────────────────────────

    private void ReadLoop(PeerSession session)
    {
        ReadLender? lender = _corral.Lender;
        bool completed = false;
        while (true)
        {
            // What arrived before a bad frame or the peer's FIN is delivered too.
            if (!DecodeAndDeliver(session, completed, out ConnectionFailure failure, out string? reason))
            {
                Fail(failure, reason!);
                return;
            }

            if (completed)
            {
                // The peer's FIN: everything it sent is decoded. Finish our side gracefully.
                if (TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, "closed by the peer"))
                {
                    BeginGracefulClose();
                }

                return;
            }

            if (lender is not null && Lend(lender))
            {
                // The edge's reader read and delivered while it had the socket; it gave it back
                // on its sleep, or on something only this thread handles.
                if (_lentFailure is { } lentFailure)
                {
                    Fail(lentFailure, _lentReason!);
                    return;
                }

                completed = _lentFin;
                continue;
            }

            string? error = ReceiveMore(out completed, spin: !_quietAfterLoan);
            _quietAfterLoan = false;
            if (error is not null)
            {
                Fail(ConnectionFailure.PeerClosed, error);
                return;
            }
        }
    }

    /// <summary>
    /// Decodes every complete frame received and delivers the packets; false, with why, when the
    /// connection must fail (a bad frame, or a handshake frame after the handshake: what came
    /// before it is delivered).
    /// </summary>
    private bool DecodeAndDeliver(PeerSession session, bool completed, out ConnectionFailure failure, out string? reason)
    {
        int maxFrame = MaxFrameSize;
        TcpFrameReadResult frame;
        while ((frame = _receiver.Next(maxFrame, completed, out int length)).IsComplete)
        {
            CountIn(length, session);
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

            _decoded.Add(packet);
        }

        DeliverDecoded();
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

    /// <summary>
    /// On the edge's reader (<see cref="ReadLender.Poll"/>): if the reads are lent, receives what
    /// has arrived without waiting and decodes and delivers it; true if anything was delivered or
    /// the loan ended. Anything but packets (FIN, an error, a bad frame) ends the loan, for the
    /// connection's thread to handle.
    /// </summary>
    internal bool ReadWhileLent()
    {
        if (Interlocked.CompareExchange(ref _loan, LoanReading, LoanLent) != LoanLent)
        {
            return false;
        }

        bool giveBack = true;
        try
        {
            SocketIo.IoStatus status = _receiver.ReceiveNow(_socket!, out int received, out string? error);
            if (status == SocketIo.IoStatus.WouldBlock)
            {
                giveBack = false;
                return false;
            }

            if (status == SocketIo.IoStatus.Failed)
            {
                _lentFailure = ConnectionFailure.PeerClosed;
                _lentReason = error ?? "the connection failed";
                return true;
            }

            if (received == 0)
            {
                _lentFin = true;
                return true;
            }

            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            if (DecodeAndDeliver(_session!, completed: false, out ConnectionFailure failure, out string? reason))
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
            CorralLog.Unexpected(_corral.Logger, e, Describe());
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
    internal void ReturnLoan()
    {
        // The edge's reader found nothing here or in the ring for a whole spin: the next read
        // sleeps at once instead of polling the same quiet socket again. Written before the
        // state, which publishes it (if the reads were taken back meanwhile, it only spares
        // one read's polling).
        _quietAfterLoan = true;
        if (Interlocked.CompareExchange(ref _loan, LoanOwn, LoanLent) == LoanLent)
        {
            _corral.Lender?.Remove(this);
            _loanReturned.Set();
        }
    }

    // The edge's reader, done with a read that ends the loan (the outcome fields are written).
    private void EndLoan()
    {
        _corral.Lender?.Remove(this);
        Volatile.Write(ref _loan, LoanOwn);
        _loanReturned.Set();
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

        SendBatch.Begin();
        try
        {
            foreach (Packet packet in _decoded)
            {
                _corral.Deliver(packet, _session!.Ident);
            }
        }
        catch (Exception e)
        {
            // Deliver catches the handler's exceptions: this is a bug in the corral.
            CorralLog.Unexpected(_corral.Logger, e, Describe());
        }
        finally
        {
            SendBatch.End();
            _decoded.Clear();
        }
    }

    /// <summary>Waits until bytes arrive; null, or why the read failed (the connection is then over).</summary>
    private string? ReceiveMore(out bool completed, bool spin = true)
    {
        int received = _receiver.Receive(_socket!, spin, out string? error);
        if (error is not null)
        {
            completed = true;
            return error;
        }

        completed = received == 0;
        if (!completed)
        {
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
        }

        return null;
    }

    private static ConnectionFailure Classify(DecodeError error) => error switch
    {
        DecodeError.FrameTooLarge => ConnectionFailure.FrameTooLarge,
        DecodeError.Truncated => ConnectionFailure.PeerClosed,
        _ => ConnectionFailure.BadFrame,
    };

    // ───────────────────────────── writing ─────────────────────────────

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
            if (_session!.EndHold(this, batch) >= 0)
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
    /// A bug met while holding the right to write (network conditions are handled where they
    /// happen): ends the connection, hands what it was writing to <c>onUndeliverable</c>, and gives
    /// the write side up for good, so that the connection's end does not wait for it.
    /// </summary>
    private void FailWhileWriting(Exception e)
    {
        CorralLog.Unexpected(_corral.Logger, e, Describe());
        Fail(ConnectionFailure.PeerClosed, e.Message);
        if (_session is { } session)
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
        PeerSession session = _session!;
        int batches = 0;
        while (true)
        {
            if (_tooLarge.Count > 0)
            {
                ReportUndeliverable(session, _tooLarge, $"the frame is over {session.Ident}'s maximum frame size of {MaxFrameSize} bytes", deferred: !blocking);
            }

            if (_outputSent < _output.WrittenCount)
            {
                SocketIo.IoStatus status = Flush(blocking);
                if (status == SocketIo.IoStatus.WouldBlock)
                {
                    HandToWriter();
                    return;
                }

                if (status == SocketIo.IoStatus.Done)
                {
                    CountOut(_output.WrittenCount, _inFlight.Count, session);
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
                    Fail(ConnectionFailure.PeerClosed, _sendError ?? "the send failed");
                }

                _output.Reset();
                _outputSent = 0;
            }

            WriteStep step = session.TakeNext(this, _batch);
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
        if (item.FrameSize - sizeof(uint) > MaxFrameSize)
        {
            CorralLog.TooLargeForPeer(_corral.Logger, _session!.Ident, item.FrameSize, MaxFrameSize);
            _tooLarge.Add(item);
            return;
        }

        TcpFraming.Write(_output, item.Packet);
        _inFlight.Add(item);
    }

    private void ReportUndeliverable(PeerSession session, List<QueuedPacket> items, string reason, bool deferred)
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
        ReadOnlySpan<byte> data = _output.WrittenSpan;
        while (_outputSent < data.Length)
        {
            // The socket is blocking: a blocking send waits for room in its buffer.
            SocketIo.IoStatus status = blocking
                ? SocketIo.SendBlocking(_socket!, data[_outputSent..], out int sent, out _sendError)
                : SocketIo.TrySend(_socket!, data[_outputSent..], out sent, out _sendError);
            if (status != SocketIo.IoStatus.Done)
            {
                return status;
            }

            Interlocked.Increment(ref _corral.Counters.Sends);
            Volatile.Write(ref _lastActivity, Environment.TickCount64);
            _outputSent += sent;
        }

        Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        return SocketIo.IoStatus.Done;
    }

    /// <summary>
    /// Called with the right to write taken for it, for a burst: the writer thread writes what is
    /// queued, with what follows meanwhile, and the sender goes on.
    /// </summary>
    public void WriteLater() => HandToWriter();

    /// <summary>True if the last write completed less than <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks) ago.</summary>
    public bool WroteWithin(long ticks) => ticks > 0 && Stopwatch.GetTimestamp() - Volatile.Read(ref _lastSend) < ticks;

    /// <summary>Gives the right to write (and what <see cref="_output"/> holds) to the writer thread, starting it the first time.</summary>
    private void HandToWriter()
    {
        // Only the holder of the right gets here, so the thread is started once; it is recorded
        // only once started, so a start that failed is not mistaken for a writer.
        if (_writer is null)
        {
            var writer = new Thread(static state => ((PeerConnection)state!).WriteLoop())
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

    /// <summary>The right to write is given up for good: tell the peer nothing more comes (FIN).</summary>
    internal void FinishWrites()
    {
        try
        {
            _socket?.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _writesDone.Set();
    }

    // ───────────────────────────── ending ─────────────────────────────

    /// <summary>Records why the connection ends, counts it and logs it; false if a reason was recorded already.</summary>
    private bool TryEnd(CloseKind kind, ConnectionFailure failure, string reason)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return false;
        }

        ILogger logger = _corral.Logger;
        switch (kind)
        {
            case CloseKind.Failure:
                _corral.Counters.Fail(failure);
                if (failure == ConnectionFailure.PeerClosed)
                {
                    CorralLog.Ended(logger, Describe(), reason);
                }
                else
                {
                    CorralLog.Refused(logger, Describe(), failure.ToMetricName(), reason);
                }

                break;
            case CloseKind.Duplicate:
                _corral.Counters.Fail(ConnectionFailure.Duplicate);
                break;
            case CloseKind.Idle:
                Interlocked.Increment(ref _corral.Counters.Idle);
                break;
            case CloseKind.Shutdown:
                break;
        }

        return true;
    }

    private void Fail(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        _session?.Release(this);
        Abort();
    }

    private void Abort()
    {
        // A full fence, as Connect's: either Connect sees this mark, or this sees Connect's socket.
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        _stopWriting = true;
        Socket? socket = Volatile.Read(ref _socket);
        if (socket is null)
        {
            return;
        }

        try
        {
            // Wakes this connection's threads blocked in recv(2), send(2) or connect(2).
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    /// <summary>No new writes: gives up the right to write if held, and lets its holder finish the batch and send FIN.</summary>
    private void StopWrites(PeerSession session)
    {
        session.Release(this);
        _stopWriting = true;
        session.CompleteWrites(this);
    }

    /// <summary>On the connection's thread, once reading is over: lets the write side finish (bounded), then releases everything.</summary>
    private void Finish()
    {
        bool writesDone = true;
        PeerSession? session = _session;
        if (_established && session is not null)
        {
            // Graceful: the holder of the right to write finishes its batch and sends FIN,
            // bounded by the close timeout; then the socket is aborted, which ends any send.
            StopWrites(session);
            TimeSpan closeTimeout = _corral.Options.CloseTimeout;
            if (!_writesDone.Wait(closeTimeout))
            {
                Abort();
                writesDone = _writesDone.Wait(closeTimeout);
            }
        }

        _writerExit = true;
        _writerSignal.Set();
        Abort();
        _receiver.Dispose();
        if (writesDone)
        {
            _output.Dispose();
        }

        if (_established)
        {
            Interlocked.Decrement(ref _corral.Counters.Open);
        }
        else
        {
            // Whatever ended the handshake, a dial must not stay "under way" for ever.
            ReportDialFailed(ConnectionFailure.PeerClosed, "the connection ended during the handshake");
        }

        // Everything decoded was delivered on this thread, before the connection counts as finished
        // (the corral's shutdown waits for it): onPacket never runs after DisposeAsync.
        _closeDeadline.Dispose();
        _corral.Forget(this);
        _completion.TrySetResult();
    }

    private static IPEndPoint? RemoteOf(Socket socket)
    {
        try
        {
            // A dual-mode socket reports an IPv4 peer as ::ffff:a.b.c.d; logs show a.b.c.d.
            return socket.RemoteEndPoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped
                ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port)
                : socket.RemoteEndPoint as IPEndPoint;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset before we looked: the connection fails on its first read.
            return null;
        }
    }

    private void CountIn(long bytes, PeerSession? session)
    {
        Interlocked.Increment(ref _corral.Counters.InFrames);
        Interlocked.Add(ref _corral.Counters.InBytes, bytes);
        if (session is not null)
        {
            Interlocked.Increment(ref session.FramesIn);
            Interlocked.Add(ref session.BytesIn, bytes);
        }
    }

    private void CountOut(long bytes, int frames, PeerSession? session)
    {
        Interlocked.Add(ref _corral.Counters.OutFrames, frames);
        Interlocked.Add(ref _corral.Counters.OutBytes, bytes);
        if (session is not null)
        {
            Interlocked.Add(ref session.FramesOut, frames);
            Interlocked.Add(ref session.BytesOut, bytes);
        }
    }
}
