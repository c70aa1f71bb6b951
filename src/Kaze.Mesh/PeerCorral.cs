using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Kaze.Core.Diagnostics;
using Kaze.Core.Waiting;
using Kaze.Mesh.Connections;
using Kaze.Mesh.Sessions;
using Kaze.Protocol;
using Kaze.Resolver;
using Microsoft.Extensions.Logging;

namespace Kaze.Mesh;

/// <summary>
/// The TCP connections between this sidecar and the other sidecars of the mesh: one connection per
/// pair of sidecars, found by ident, used in both directions, opened on demand.
/// </summary>
/// <remarks>
/// <para>
/// Every connection starts with a handshake (ident, protocol version, maximum frame size, and,
/// with a shared secret, a challenge–response proof) made of ordinary TCP frames, so the framing
/// stays the one of starwing/kaze. See the project's docs for the exact frames.
/// </para>
/// <para>
/// Sending never waits: each peer has its own bounded queue, drained by the writer loop of its
/// connection, many frames per system call. A slow or dead peer fills only its own queue. A packet
/// that cannot be delivered (the peer cannot be reached, the connection is lost, the corral shuts
/// down) goes to the <c>onUndeliverable</c> callback, so a request can be answered with
/// RET_UNREACHABLE instead of timing out.
/// </para>
/// <para>
/// Order: packets to one peer leave in the order they were queued. Packets received are handed to
/// <c>onPacket</c> in the order they arrived on their connection; only while a duplicate
/// connection is being replaced can the tail of the old one interleave with the head of the new one.
/// </para>
/// </remarks>
public sealed class PeerCorral : IAsyncDisposable
{
    private readonly IResolver _resolver;
    private readonly Action<Packet, Ident> _onPacket;
    private readonly Action<Packet, string> _onUndeliverable;

    // One per peer ident ever sent to or connected with.
    private readonly ConcurrentDictionary<Ident, PeerSession> _sessions = new();

    // Every connection not yet finished, handshaking ones included; for the idle sweep and shutdown.
    private readonly ConcurrentDictionary<PeerConnection, byte> _connections = new();

    // Cancelled at shutdown: stops accepting, dialling and the idle sweep.
    private readonly CancellationTokenSource _shutdown = new();

    // Completed when _background reaches 0 after shutdown began.
    private readonly TaskCompletionSource _allStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Log lines about bad peers, rate-limited per reason (indexed by ConnectionFailure); the counters count every event.
    private readonly LogRateLimiter[] _refusalLogs;

    // Log lines about packets with another node's srcIdent (identity binding under TLS).
    private readonly LogRateLimiter _spoofLog = new();

    // Connections in _connections (Interlocked): for MaxConnections at accept.
    private int _connectionCount;

    private Socket? _listener;
    private IPEndPoint? _localEndPoint;

    // Background tasks running (accept loop, sweep, dials, connections); Interlocked.
    private int _background;

    // 1 once StartAsync ran; 1 once DisposeAsync began.
    private int _started;
    private volatile bool _disposed;

    /// <summary>Creates the corral; nothing is bound until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The settings; validated now.</param>
    /// <param name="self">This sidecar's ident; sent in every hello.</param>
    /// <param name="resolver">Finds a peer's address when a packet is sent to an ident with no connection.</param>
    /// <param name="onPacket">
    /// Called with each packet received and the ident of the peer it came from (not necessarily its
    /// <see cref="Hdr.SrcIdent"/>, which is kept as sent). The callee owns the packet. Runs on the
    /// connection's thread, for one connection one packet at a time and in the order they arrived:
    /// it must not block (the connection is not read meanwhile).
    /// </param>
    /// <param name="onUndeliverable">
    /// Called with a packet that was queued but cannot be delivered, and why. The callee owns the
    /// packet. Called from the corral's own loops and from <see cref="DisposeAsync"/>, never from
    /// inside <see cref="TrySend"/>, and never while a lock is held: it may send.
    /// </param>
    /// <param name="loggers">Where logs go; the category is <see cref="LogCategory"/>.</param>
    /// <exception cref="ArgumentException">The options are invalid (the message lists every problem), or <paramref name="self"/> is 0.0.0.0.</exception>
    public PeerCorral(CorralOptions options, Ident self, IResolver resolver, Action<Packet, Ident> onPacket, Action<Packet, string> onUndeliverable, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(onPacket);
        ArgumentNullException.ThrowIfNull(onUndeliverable);
        ArgumentNullException.ThrowIfNull(loggers);
        List<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid corral options: " + string.Join(" ", problems), nameof(options));
        }

        if (self == Ident.Any)
        {
            throw new ArgumentException("A sidecar in a mesh needs an ident other than 0.0.0.0.", nameof(self));
        }

        Options = options;
        BurstWindowTicks = (long)(options.BurstWindow.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        Self = self;
        _resolver = resolver;
        _onPacket = onPacket;
        _onUndeliverable = onUndeliverable;
        Logger = loggers.CreateLogger(LogCategory);
        ReceiveBudget = new ReceiveBudget(options.ReceiveBudget);
        _refusalLogs = new LogRateLimiter[ConnectionFailureExtensions.All.Count];
        for (int i = 0; i < _refusalLogs.Length; i++)
        {
            _refusalLogs[i] = new LogRateLimiter();
        }
    }

    /// <summary>The category of the corral's log lines ("Kaze.Mesh").</summary>
    public const string LogCategory = "Kaze.Mesh";

    /// <summary>The address the corral listens on, with the port actually bound (useful with port 0).</summary>
    /// <exception cref="InvalidOperationException">The corral has not been started.</exception>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The corral is not started.");

    /// <summary>A snapshot of every peer the corral has sent to or heard from.</summary>
    public IReadOnlyList<PeerStatus> Peers
    {
        get
        {
            var peers = new List<PeerStatus>(_sessions.Count);
            foreach (PeerSession session in _sessions.Values)
            {
                peers.Add(session.Snapshot());
            }

            peers.Sort((a, b) => a.Ident.Value.CompareTo(b.Ident.Value));
            return peers;
        }
    }

    /// <summary>Counters since start, for metrics.</summary>
    public CorralCounters Counters { get; } = new();

    internal CorralOptions Options { get; }

    /// <summary>The receive memory for large frames all connections share (<see cref="CorralOptions.ReceiveBudget"/>).</summary>
    internal ReceiveBudget ReceiveBudget { get; }

    internal Ident Self { get; }

    internal ILogger Logger { get; }

    /// <summary>
    /// The host edge's reader, to which connections lend their reads while it polls
    /// (<see cref="ReadLender"/>); set by <see cref="LendReads"/>. Connections lend only while it
    /// is polled: never with no host (`kaze sidecar`), nor when it is null.
    /// </summary>
    internal ReadLender? Lender { get; set; }

    /// <summary><see cref="CorralOptions.BurstWindow"/> in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    internal long BurstWindowTicks { get; }

    /// <summary>Shutdown has begun.</summary>
    internal bool IsShuttingDown => _disposed;

    /// <summary>Binds the listening socket and starts accepting connections from other sidecars.</summary>
    /// <param name="ct">Cancels resolving the listen host name.</param>
    /// <returns>A task that completes once the corral listens.</returns>
    /// <exception cref="CorralListenException">The address cannot be bound (in use, not local, not permitted, unknown host).</exception>
    /// <exception cref="InvalidOperationException">Already started, or disposed.</exception>
    public async Task StartAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The corral is already started.");
        }

        NodeAddress address = Options.Listen;
        IPAddress ip = await ResolveListenAddressAsync(address, ct).ConfigureAwait(false);
        var listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            // SO_REUSEADDR alone lets a restarted sidecar bind while old connections on the port
            // are in TIME_WAIT. Not SocketOptionName.ReuseAddress: on Linux .NET maps that to
            // SO_REUSEPORT as well, which lets a second sidecar listen on the same port.
            listener.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            listener.Bind(new IPEndPoint(ip, address.Port));
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new CorralListenException(address, e.Message, e);
        }

        _listener = listener;
        _localEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        CorralLog.Listening(Logger, _localEndPoint.ToString(), Options.Secret is null ? "" : " (shared secret required)");
        Track(AcceptLoopAsync);
        Track(SweepLoopAsync);
    }

    /// <summary>
    /// Queues <paramref name="packet"/> for <paramref name="peer"/>, dialling it if there is no
    /// connection. Never waits.
    /// </summary>
    /// <param name="peer">The sidecar to send to.</param>
    /// <param name="packet">The packet; its header is sent as it is (<see cref="Hdr.SrcIdent"/> included).</param>
    /// <returns>
    /// <see cref="SendResult.Queued"/>: the corral owns the packet. Any other result: the packet was
    /// not taken and the caller still owns it — <see cref="SendResult.Unreachable"/> (backing off
    /// after a failed attempt, the peer is this sidecar, or shut down), <see cref="SendResult.QueueFull"/>
    /// (the peer's queue is at its limit), <see cref="SendResult.TooLarge"/> (over <see cref="CorralOptions.MaxFrameSize"/>).
    /// </returns>
    public SendResult TrySend(Ident peer, Packet packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (_disposed || peer == Self || peer == Ident.Any)
        {
            return SendResult.Unreachable;
        }

        // The limit is on the frame's total length field: header length field + header + body,
        // which is the frame less its own 4 bytes. (A body over the limit is refused before the
        // frame's size is computed, which could then overflow an int.)
        if (packet.BodyLength > Options.MaxFrameSize)
        {
            return SendResult.TooLarge;
        }

        long total = TcpFraming.GetFrameSize(packet.Header, packet.BodyLength) - sizeof(uint);
        if (total > Options.MaxFrameSize)
        {
            return SendResult.TooLarge;
        }

        if (!_sessions.TryGetValue(peer, out PeerSession? session))
        {
            session = GetSession(peer);
        }

        SendResult result;

        // False only if the idle sweep retired the session just now: take a new one.
        while (!session.TrySend(packet, (int)total + sizeof(uint), out result))
        {
            session = Renew(session);
        }

        if (result == SendResult.QueueFull)
        {
            Interlocked.Increment(ref Counters.Full);
        }

        return result;
    }

    /// <summary>
    /// Closes the connection with <paramref name="peer"/> and hands the packets queued for it to
    /// the undeliverable callback (requests among them are answered RET_UNREACHABLE): for a node
    /// that left the mesh (discovery removed it). A later send dials it afresh.
    /// </summary>
    /// <param name="peer">The node.</param>
    /// <param name="reason">Why, for the log and the undeliverable callback.</param>
    /// <returns>True if the corral had a session with the peer.</returns>
    public bool Disconnect(Ident peer, string reason)
    {
        if (!_sessions.TryGetValue(peer, out PeerSession? session))
        {
            return false;
        }

        _sessions.TryRemove(KeyValuePair.Create(peer, session));
        session.Evict(reason);
        return true;
    }

    /// <summary>
    /// True if a send to <paramref name="peer"/> would be refused now: its last connection attempt
    /// failed and the backoff runs. A peer never sent to, connecting or connected is not. Cheap and
    /// allocation-free, for picking among members of a name or selector.
    /// </summary>
    /// <param name="peer">The node.</param>
    /// <returns>True while backing off.</returns>
    public bool IsBackingOff(Ident peer) =>
        _sessions.TryGetValue(peer, out PeerSession? session) && session.IsBackingOff(Environment.TickCount64);

    /// <summary>
    /// Lends the connections' reads to a ring reader that polls anyway (the host edge's reader,
    /// with <c>kaze run</c>): while that reader is awake, a connection with nothing to read hands
    /// it its socket instead of polling on its own thread, so one thread per sidecar polls instead
    /// of one per connection as well. Give the result to that reader (Kaze.Edge's
    /// <c>HostEdge.Start</c>), which polls it between its own polls and tells it before it sleeps.
    /// Without it (<c>kaze sidecar</c>, no host) every connection reads for itself.
    /// </summary>
    /// <returns>The companion to give the ring reader.</returns>
    /// <exception cref="InvalidOperationException">The corral is started already (connections would not all see it).</exception>
    public IReaderCompanion LendReads()
    {
        if (Volatile.Read(ref _started) != 0)
        {
            throw new InvalidOperationException("Lend the reads before the corral starts.");
        }

        return Lender ??= new ReadLender();
    }

    /// <summary>
    /// Opens a batch of sends on the calling thread: until the matching <see cref="EndBatch"/>, a
    /// packet this thread sends (<see cref="TrySend"/>) to a peer that nothing else is writing to is
    /// queued instead of written at once, and each peer's packets are written together when the
    /// batch ends, many frames per system call, by this thread without blocking (a full socket
    /// buffer passes the rest to the connection's writer thread). For a loop that hands on many packets in a row, e.g.
    /// everything a host wrote before the loop would wait for more; the loop ends the batch before
    /// it waits. Nothing waits for the batch: a packet another thread sends to the same peer
    /// writes what is queued at once. Begin and end on the same thread, with no await in between;
    /// nestable, the outermost <see cref="EndBatch"/> writes.
    /// </summary>
    public static void BeginBatch() => SendBatch.Begin();

    /// <summary>Closes the calling thread's batch of sends (<see cref="BeginBatch"/>); the outermost close writes what was kept.</summary>
    public static void EndBatch() => SendBatch.End();

    /// <summary>
    /// Stops listening, hands every queued packet to the undeliverable callback, and closes every
    /// connection (gracefully, within <see cref="CorralOptions.CloseTimeout"/>).
    /// </summary>
    /// <returns>A task that completes when every connection and loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Sessions first: a dial cancelled below then finds its session closed and drops nothing itself.
        foreach (PeerSession session in _sessions.Values)
        {
            session.Close();
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();

        foreach (PeerConnection connection in _connections.Keys)
        {
            connection.RequestClose(CloseKind.Shutdown, "the corral is shutting down");
        }

        if (Volatile.Read(ref _background) == 0)
        {
            _allStopped.TrySetResult();
        }

        // Connections end within the close timeout; the margin covers their bookkeeping.
        await _allStopped.Task.WaitAsync(Options.CloseTimeout + TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _shutdown.Dispose();
    }

    internal PeerSession GetSession(Ident ident)
    {
        PeerSession session = _sessions.GetOrAdd(ident, static (id, corral) => new PeerSession(corral, id), this);
        if (_disposed)
        {
            // Created during shutdown, after the sessions were closed.
            session.Close();
        }

        return session;
    }

    /// <summary>The session that replaces <paramref name="retired"/>, which the idle sweep retired.</summary>
    internal PeerSession Renew(PeerSession retired)
    {
        _sessions.TryRemove(KeyValuePair.Create(retired.Ident, retired));
        return GetSession(retired.Ident);
    }

    internal void StartDial(PeerSession session) => Track(() => DialAsync(session));

    internal void Deliver(Packet packet, Ident from)
    {
        try
        {
            _onPacket(packet, from);
        }
        catch (Exception e)
        {
            CorralLog.HandlerFailed(Logger, e, packet.Header.BodyType, from);
            packet.Dispose();
        }
    }

    internal void Undeliverable(Packet packet, string reason)
    {
        Interlocked.Increment(ref Counters.Undelivered);
        try
        {
            _onUndeliverable(packet, reason);
        }
        catch (Exception e)
        {
            CorralLog.UndeliverableHandlerFailed(Logger, e, packet.Header.BodyType);
            packet.Dispose();
        }
    }

    internal void Forget(PeerConnection connection)
    {
        if (_connections.TryRemove(connection, out _))
        {
            Interlocked.Decrement(ref _connectionCount);
        }
    }

    /// <summary>A packet whose srcIdent is not its TLS peer's ident, from a peer that may not relay: counted, logged at a bounded rate (the caller drops it).</summary>
    internal void DroppedSpoofed(string peer, uint claimed)
    {
        Interlocked.Increment(ref Counters.Spoofed);
        if (_spoofLog.TryAcquire(out long suppressed))
        {
            CorralLog.SpoofedSource(Logger, peer, new Ident(claimed).ToString(), SuppressedNote(suppressed));
        }
    }

    /// <summary>
    /// Logs that a connection was refused or closed for <paramref name="failure"/>, at most a few
    /// lines a second per reason; the first line after a quiet spell says how many were not logged.
    /// </summary>
    internal void LogRefused(string peer, ConnectionFailure failure, string reason)
    {
        if (!_refusalLogs[(int)failure].TryAcquire(out long suppressed))
        {
            return;
        }

        if (failure == ConnectionFailure.PeerClosed)
        {
            CorralLog.Ended(Logger, peer, reason, SuppressedNote(suppressed));
        }
        else
        {
            CorralLog.Refused(Logger, peer, failure.ToMetricName(), reason, SuppressedNote(suppressed));
        }
    }

    private static string SuppressedNote(long suppressed) =>
        suppressed == 0 ? "" : $" ({suppressed} more like this not logged)";

    private void Add(PeerConnection connection)
    {
        if (_connections.TryAdd(connection, 0))
        {
            Interlocked.Increment(ref _connectionCount);
        }
    }

    private static async Task<IPAddress> ResolveListenAddressAsync(NodeAddress address, CancellationToken ct)
    {
        if (IPAddress.TryParse(address.Host, out IPAddress? ip))
        {
            return ip;
        }

        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(address.Host, ct).ConfigureAwait(false);
            return addresses.Length > 0
                ? addresses[0]
                : throw new CorralListenException(address, $"the host name '{address.Host}' has no address");
        }
        catch (SocketException e)
        {
            throw new CorralListenException(address, $"cannot resolve '{address.Host}': {e.Message}", e);
        }
    }

    private void Track(Func<Task> work)
    {
        Interlocked.Increment(ref _background);

        // On the thread pool: TrySend may be called on a synchronization context (a UI, a test
        // runner) that must never carry the corral's loops.
        _ = Task.Run(() => RunTrackedAsync(work));
    }

    private async Task RunTrackedAsync(Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            CorralLog.Unexpected(Logger, e, "a background loop");
        }
        finally
        {
            // Either this sees _disposed, or DisposeAsync sees 0: Interlocked and volatile order both.
            if (Interlocked.Decrement(ref _background) == 0 && _disposed)
            {
                _allStopped.TrySetResult();
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        Socket listener = _listener!;
        CancellationToken ct = _shutdown.Token;
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                // E.g. out of file descriptors: keep listening, without spinning.
                CorralLog.AcceptFailed(Logger, e);
                try
                {
                    await Task.Delay(100, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            Interlocked.Increment(ref Counters.Accepted);
            if (RefuseAtAccept(socket))
            {
                continue;
            }

            try
            {
                socket.NoDelay = true;
            }
            catch (SocketException)
            {
                // Already reset by the peer: the connection fails on its first read.
            }
            var connection = new PeerConnection(this, socket, ConnectionDirection.Inbound, dialledFor: null);
            Add(connection);
            if (_disposed)
            {
                connection.RequestClose(CloseKind.Shutdown, "the corral is shutting down");
            }

            Track(connection.Start);
        }
    }

    /// <summary>
    /// Past <see cref="CorralOptions.MaxConnections"/> connections, or
    /// <see cref="CorralOptions.MaxHandshaking"/> inbound ones in their handshake, closes
    /// <paramref name="socket"/> at once (counted, logged at a bounded rate); true then.
    /// </summary>
    private bool RefuseAtAccept(Socket socket)
    {
        ConnectionFailure failure;
        string reason;
        if (Volatile.Read(ref _connectionCount) >= Options.MaxConnections)
        {
            failure = ConnectionFailure.ConnectionLimit;
            reason = $"{Options.MaxConnections} connections are open (corral:maxConnections)";
        }
        else if (Volatile.Read(ref Counters.InHandshake) >= Options.MaxHandshaking)
        {
            failure = ConnectionFailure.HandshakeLimit;
            reason = $"{Options.MaxHandshaking} connections are in their handshake (corral:maxHandshaking)";
        }
        else
        {
            return false;
        }

        Counters.Fail(failure);
        string peer;
        try
        {
            peer = $"{socket.RemoteEndPoint} (ident unknown)";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            peer = "? (ident unknown)";
        }

        // Closed without a word: an RST if it sent anything, so nothing is kept for it.
        socket.LingerState = new LingerOption(true, 0);
        socket.Dispose();
        LogRefused(peer, failure, reason);
        return true;
    }

    private async Task DialAsync(PeerSession session)
    {
        Interlocked.Increment(ref Counters.Attempts);
        Ident ident = session.Ident;
        long deadline = Environment.TickCount64 + (long)Options.ConnectTimeout.TotalMilliseconds;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        timeout.CancelAfter(Options.ConnectTimeout);
        string seconds = $"{Options.ConnectTimeout.TotalSeconds:0.###} s";

        NodeAddress? address;
        try
        {
            address = await _resolver.ResolveAsync(ident, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
        {
            DialFailed(session, ConnectionFailure.Unresolved, $"the resolver did not answer within {seconds}");
            return;
        }
        catch (Exception e) when (!_shutdown.IsCancellationRequested)
        {
            DialFailed(session, ConnectionFailure.Unresolved, $"the resolver failed: {e.Message}");
            return;
        }
        catch (Exception)
        {
            session.DialFailed(ConnectionFailure.ConnectFailed, "the corral is shutting down");
            return;
        }

        if (address is not { } target)
        {
            DialFailed(session, ConnectionFailure.Unresolved, $"the resolver does not know {ident}");
            return;
        }

        IPAddress[] addresses;
        if (IPAddress.TryParse(target.Host, out IPAddress? literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(target.Host, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ArgumentException)
            {
                ConnectFailed(session, target.ToString(), timedOut: e is OperationCanceledException, e.Message);
                return;
            }

            if (addresses.Length == 0)
            {
                DialFailed(session, ConnectionFailure.ConnectFailed, $"cannot connect to {target}: the host name has no address");
                return;
            }
        }

        CorralLog.Dialling(Logger, ident, target.ToString());

        // The connection's own thread connects (blocking, so the socket stays in blocking mode).
        var connection = new PeerConnection(this, socket: null, ConnectionDirection.Outbound, session, new DialTarget(target, addresses, deadline));
        Add(connection);
        if (_disposed)
        {
            connection.RequestClose(CloseKind.Shutdown, "the corral is shutting down");
        }

        await connection.Start().ConfigureAwait(false);
    }

    internal void DialFailed(PeerSession session, ConnectionFailure failure, string reason)
    {
        Counters.Fail(failure);
        session.DialFailed(failure, reason);
    }

    /// <summary>
    /// Connecting to <paramref name="target"/> failed (or its name did not resolve in time): counted
    /// and reported to the session, unless the corral is shutting down, which is the reason then.
    /// </summary>
    internal void ConnectFailed(PeerSession session, string target, bool timedOut, string error)
    {
        if (IsShuttingDown)
        {
            session.DialFailed(ConnectionFailure.ConnectFailed, "the corral is shutting down");
            return;
        }

        DialFailed(session, ConnectionFailure.ConnectFailed, timedOut
            ? $"connecting to {target} timed out after {Options.ConnectTimeout.TotalSeconds:0.###} s"
            : $"cannot connect to {target}: {error}");
    }

    private async Task SweepLoopAsync()
    {
        // Often enough that a connection is closed within a quarter of the idle or frame timeout.
        double shortest = Math.Min(Options.IdleTimeout.TotalMilliseconds, Options.FrameTimeout.TotalMilliseconds);
        TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(shortest / 4, 10, 250));
        using var timer = new PeriodicTimer(period);
        long idleMs = (long)Options.IdleTimeout.TotalMilliseconds;
        long frameMs = (long)Options.FrameTimeout.TotalMilliseconds;
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                foreach (PeerConnection connection in _connections.Keys)
                {
                    long partialSince = connection.Receiver.PartialFrameSince;
                    if (partialSince != 0 && now - partialSince >= frameMs && !connection.IsEnding)
                    {
                        connection.Fail(ConnectionFailure.SlowFrame, $"a frame began to arrive {(now - partialSince) / 1000.0:0.#} s ago and is not complete (corral:frameTimeout {Options.FrameTimeout.TotalSeconds:0.###} s)");
                        continue;
                    }

                    long idle = now - connection.LastActivity;
                    if (connection.IsEstablished && !connection.IsEnding && idle >= idleMs)
                    {
                        CorralLog.Idle(Logger, connection.Describe(), TimeSpan.FromMilliseconds(idle));
                        connection.RequestClose(CloseKind.Idle, "idle");
                    }
                }

                // A peer nothing was sent to or heard from for as long is forgotten (its status too).
                foreach (KeyValuePair<Ident, PeerSession> entry in _sessions)
                {
                    if (entry.Value.TryRetire(now, idleMs))
                    {
                        _sessions.TryRemove(entry);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
