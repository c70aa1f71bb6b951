using System.Net;
using System.Net.Sockets;
using Kaze.Mesh.Sessions;
using Kaze.Mesh.Tls;
using Kaze.Protocol;
using Kaze.Resolver;

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
/// One TCP connection with another sidecar: its lifecycle. Its own thread connects (outbound),
/// runs the handshake (<see cref="ConnectionHandshake"/>), then reads until the connection ends
/// (<see cref="PeerReceiver"/>); writes are made by whoever holds the right to write
/// (<see cref="PeerSender"/>). How a connection ends is decided here, in one place.
/// </summary>
/// <remarks>
/// <para>
/// Ending: the first reason recorded wins (<see cref="TryEnd"/>); it is counted and logged once.
/// A bad frame, a failed write or a failed handshake aborts the socket at once. Any other end is
/// graceful: the holder of the right to write finishes the batch it is sending, shuts down the
/// write side (FIN), and the reader goes on delivering until the peer's FIN, so nothing either side
/// wrote before its FIN is lost. <see cref="CorralOptions.CloseTimeout"/> bounds that; then the
/// socket is aborted.
/// </para>
/// <para>
/// The socket stays in blocking mode (see <see cref="SocketIo"/>): connecting is a blocking
/// connect(2) on the connection's thread, bounded by a timer that aborts the socket.
/// </para>
/// </remarks>
internal sealed class PeerConnection
{
    // For an outbound connection: the session that dialled, and where to connect.
    private readonly PeerSession? _dialledFor;
    private readonly DialTarget? _dial;

    // Cancelled (after the close timeout) to abort the socket.
    private readonly CancellationTokenSource _closeDeadline = new();

    // Completed when the connection's thread has finished.
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Null for an outbound connection until connect(2) starts; replaced per address tried.
    private Socket? _socket;

    // Set once a frame of the handshake names the peer (for logs); the session once established.
    private volatile string? _peer;

    // 0 until the first reason to end is recorded (Interlocked), then 1.
    private int _ended;

    // Set before the right to write is given up for good: when closing, and when aborted.
    private volatile bool _stopWriting;

    // Set once the handshake completed.
    private volatile bool _established;

    // Environment.TickCount64 of the last bytes read or written; for the idle timeout.
    private long _lastActivity;

    // 1 once the socket was aborted.
    private int _aborted;

    // 1 once an outbound connection told its session that the dial failed; once per connection.
    private int _dialReported;

    private volatile bool _connectTimedOut;

    // 1 while an inbound connection counts in CorralCounters.InHandshake (Interlocked), 0 once it left.
    private int _inHandshake;

    public PeerConnection(PeerCorral corral, Socket? socket, ConnectionDirection direction, PeerSession? dialledFor, DialTarget? dial = null)
    {
        Corral = corral;
        _socket = socket;
        Direction = direction;
        _dialledFor = dialledFor;
        _dial = dial;
        if (socket is not null)
        {
            RemoteEndPoint = RemoteOf(socket);
        }

        if (direction == ConnectionDirection.Inbound)
        {
            _inHandshake = 1;
            Interlocked.Increment(ref corral.Counters.InHandshake);
        }

        Sender = new PeerSender(this);
        Receiver = new PeerReceiver(this);
        _lastActivity = Environment.TickCount64;
        _closeDeadline.Token.UnsafeRegister(static state => ((PeerConnection)state!).Abort(), this);
    }

    public PeerCorral Corral { get; }

    /// <summary>The write path.</summary>
    public PeerSender Sender { get; }

    /// <summary>The read path.</summary>
    public PeerReceiver Receiver { get; }

    public ConnectionDirection Direction { get; }

    public IPEndPoint? RemoteEndPoint { get; private set; }

    /// <summary>The socket; null for an outbound connection until connect(2) starts.</summary>
    public Socket? Socket => Volatile.Read(ref _socket);

    /// <summary>TLS on this connection, when the corral has TLS credentials; set by the handshake before any frame.</summary>
    public TlsConnection? Tls { get; set; }

    /// <summary>The session the connection serves, once established.</summary>
    public PeerSession? Session { get; private set; }

    /// <summary>The ident this side dialled, which the peer must have; null for an inbound connection.</summary>
    public Ident? DialledIdent => _dialledFor?.Ident;

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

    /// <summary>Bytes moved either way: the idle clock starts again.</summary>
    public void MarkActive() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    /// <summary>Names the peer in log lines; with <paramref name="onlyIfUnnamed"/>, only if no ident names it yet.</summary>
    public void NamePeer(Ident ident, bool onlyIfUnnamed = false)
    {
        if (!onlyIfUnnamed || _peer is null)
        {
            _peer = ident.ToString();
        }
    }

    /// <summary>The peer sent its FIN after everything it sent was delivered: finish our side gracefully.</summary>
    public void ClosedByPeer()
    {
        if (TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, "closed by the peer"))
        {
            BeginGracefulClose();
        }
    }

    /// <summary>Ends the connection at once for <paramref name="failure"/>: counted, logged, the socket aborted.</summary>
    public void Fail(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        Session?.Release(this);
        Abort();
    }

    /// <summary>Refuses the connection before it is established: counted, logged, aborted, and a dial reported failed.</summary>
    public void Refuse(ConnectionFailure failure, string reason)
    {
        TryEnd(CloseKind.Failure, failure, reason);
        Abort();
        ReportDialFailed(failure, reason);
    }

    public void CountIn(long bytes, PeerSession? session)
    {
        Interlocked.Increment(ref Corral.Counters.InFrames);
        Interlocked.Add(ref Corral.Counters.InBytes, bytes);
        if (session is not null)
        {
            Interlocked.Increment(ref session.FramesIn);
            Interlocked.Add(ref session.BytesIn, bytes);
        }
    }

    public void CountOut(long bytes, int frames, PeerSession? session)
    {
        Interlocked.Add(ref Corral.Counters.OutFrames, frames);
        Interlocked.Add(ref Corral.Counters.OutBytes, bytes);
        if (session is not null)
        {
            Interlocked.Add(ref session.FramesOut, frames);
            Interlocked.Add(ref session.BytesOut, bytes);
        }
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

    private void BeginGracefulClose()
    {
        if (Session is { } session)
        {
            StopWrites(session);
        }
        else
        {
            _stopWriting = true;
        }

        try
        {
            _closeDeadline.CancelAfter(Corral.Options.CloseTimeout);
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

            HandshakeResult? handshake = new ConnectionHandshake(this).Run();
            if (handshake is null)
            {
                return;
            }

            PeerHello hello = handshake.Hello!;
            MaxFrameSize = handshake.MaxFrameSize;
            PeerSession session = Corral.GetSession(hello.Ident);
            Session = session;

            // The idle clock starts now, however long the handshake took.
            MarkActive();
            LeaveHandshake();
            _established = true;
            Interlocked.Increment(ref Corral.Counters.Established);
            Interlocked.Increment(ref Corral.Counters.Open);
            CorralLog.Connected(Corral.Logger, Describe(), Direction, hello.Version, MaxFrameSize);

            // A session left unused for long is dropped by the idle sweep; take a fresh one then.
            while (!session.Attach(this, hello.Version))
            {
                session = Corral.Renew(session);
                Session = session;
            }

            Receiver.ReadLoop();
        }
        catch (Exception e)
        {
            // A bug, not a network condition: those are handled where they happen.
            CorralLog.Unexpected(Corral.Logger, e, Describe());
            TryEnd(CloseKind.Failure, ConnectionFailure.PeerClosed, e.Message);
        }
        finally
        {
            Finish();
        }
    }

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
        Corral.ConnectFailed(_dialledFor!, dial.Address.ToString(), _connectTimedOut, failure ?? "aborted");
        return false;
    }

    private void LeaveHandshake()
    {
        if (Interlocked.Exchange(ref _inHandshake, 0) != 0)
        {
            Interlocked.Decrement(ref Corral.Counters.InHandshake);
        }
    }

    private void ConnectTimedOut()
    {
        _connectTimedOut = true;
        Abort();
    }

    private void ReportDialFailed(ConnectionFailure failure, string reason)
    {
        if (_dialledFor is not null && Interlocked.Exchange(ref _dialReported, 1) == 0)
        {
            _dialledFor.DialFailed(failure, reason);
        }
    }

    /// <summary>Records why the connection ends, counts it and logs it; false if a reason was recorded already.</summary>
    private bool TryEnd(CloseKind kind, ConnectionFailure failure, string reason)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return false;
        }

        switch (kind)
        {
            case CloseKind.Failure:
                Corral.Counters.Fail(failure);
                Corral.LogRefused(Describe(), failure, reason);
                break;
            case CloseKind.Duplicate:
                Corral.Counters.Fail(ConnectionFailure.Duplicate);
                break;
            case CloseKind.Idle:
                Interlocked.Increment(ref Corral.Counters.Idle);
                break;
            case CloseKind.Shutdown:
                break;
        }

        return true;
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
        PeerSession? session = Session;
        if (_established && session is not null)
        {
            // Graceful: the holder of the right to write finishes its batch and sends FIN,
            // bounded by the close timeout; then the socket is aborted, which ends any send.
            StopWrites(session);
            TimeSpan closeTimeout = Corral.Options.CloseTimeout;
            if (!Sender.WaitWritesDone(closeTimeout))
            {
                Abort();
                writesDone = Sender.WaitWritesDone(closeTimeout);
            }
        }

        Sender.StopWriter();
        Abort();
        LeaveHandshake();
        Receiver.Dispose();
        if (writesDone)
        {
            Sender.Dispose();
            Tls?.Dispose();
        }

        if (_established)
        {
            Interlocked.Decrement(ref Corral.Counters.Open);
        }
        else
        {
            // Whatever ended the handshake, a dial must not stay "under way" for ever.
            ReportDialFailed(ConnectionFailure.PeerClosed, "the connection ended during the handshake");
        }

        // Everything decoded was delivered on this thread, before the connection counts as finished
        // (the corral's shutdown waits for it): onPacket never runs after DisposeAsync.
        _closeDeadline.Dispose();
        Corral.Forget(this);
        _completion.TrySetResult();
    }
}
