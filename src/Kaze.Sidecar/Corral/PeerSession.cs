using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Corral;

/// <summary>A packet waiting for a peer, with the size of its frame (computed once, at queueing).</summary>
internal readonly record struct QueuedPacket(Packet Packet, int FrameSize);

/// <summary>
/// Everything the corral knows about one peer ident: the bounded queue of packets for it, the
/// connection currently used to send to it, and the dial and backoff state. The queue belongs to
/// the session, not to a connection, so a connection can be replaced (duplicate, reconnect)
/// without losing what waits.
/// </summary>
/// <remarks>
/// Every field below is guarded by <see cref="_lock"/> unless its comment says otherwise. Nothing
/// is called back (logging aside) while the lock is held: undeliverable packets, dials and wake-ups
/// are collected under the lock and acted on after it.
/// </remarks>
internal sealed class PeerSession
{
    // Dequeued per writer batch at most; bounds the time the lock is held.
    private const int MaxBatchPackets = 1024;

    // A writer stops adding frames to a batch once it holds this many bytes.
    private const int FlushThreshold = 64 * 1024;

    private readonly PeerCorral _corral;
    private readonly Lock _lock = new();

    // Packets for the peer, oldest first.
    private readonly Queue<QueuedPacket> _queue = new();

    // Sum of FrameSize over _queue.
    private long _queuedBytes;

    // The connection the writer loop drains the queue into; null when none is established.
    private PeerConnection? _active;

    // A dial for this peer is under way (resolve, connect or handshake); at most one at a time.
    private bool _dialling;

    // Environment.TickCount64 before which sends return Unreachable; 0 when not backing off.
    private long _backoffUntil;

    // Failed attempts in a row, for the backoff; reset when a connection is established.
    private int _failures;

    // The corral is disposed: nothing is queued or dialled any more.
    private bool _closed;

    // From the last hello and connection, for status only.
    private uint _lastVersion;

    // Updated by reader and writer loops with Interlocked; read racily for status.
    internal long FramesIn;
    internal long BytesIn;
    internal long FramesOut;
    internal long BytesOut;

    public PeerSession(PeerCorral corral, Ident ident)
    {
        _corral = corral;
        Ident = ident;
    }

    public Ident Ident { get; }

    /// <summary>Queues a packet, starting a dial if there is no connection. Ownership passes only on Queued.</summary>
    public SendResult TrySend(Packet packet, int frameSize)
    {
        bool dial = false;
        PeerConnection? wake = null;
        lock (_lock)
        {
            if (_closed)
            {
                return SendResult.Unreachable;
            }

            bool idle = _active is null && !_dialling;
            if (idle && _backoffUntil != 0 && Environment.TickCount64 < _backoffUntil)
            {
                return SendResult.Unreachable;
            }

            // One packet is always allowed into an empty queue, whatever its size.
            if (_queue.Count >= _corral.Options.MaxQueuedPackets ||
                (_queue.Count > 0 && _queuedBytes + frameSize > _corral.Options.MaxQueuedBytes))
            {
                return SendResult.QueueFull;
            }

            _queue.Enqueue(new QueuedPacket(packet, frameSize));
            _queuedBytes += frameSize;
            if (idle)
            {
                _dialling = true;
                _backoffUntil = 0;
                dial = true;
            }
            else if (_queue.Count == 1)
            {
                // The writer may be waiting on an empty queue; a ring while it is busy is remembered
                // and costs it one extra look at the queue.
                wake = _active;
            }
        }

        if (dial)
        {
            _corral.StartDial(this);
        }

        wake?.Doorbell.Ring();
        return SendResult.Queued;
    }

    /// <summary>
    /// Moves the next packets into <paramref name="batch"/> for <paramref name="connection"/>'s
    /// writer. False when that writer must stop: the connection is closing. A connection that is
    /// no longer the one in use gets nothing, and its writer waits: it stops (and sends FIN) only
    /// once the reason was recorded by <see cref="PeerConnection.RequestClose"/>, so the peer never
    /// sees the end of a duplicate before this side has counted it as one.
    /// </summary>
    public bool TakeBatch(PeerConnection connection, List<QueuedPacket> batch)
    {
        lock (_lock)
        {
            if (connection.StopWriting)
            {
                return false;
            }

            if (_active != connection)
            {
                return true;
            }

            long bytes = 0;
            while (batch.Count < MaxBatchPackets && bytes < FlushThreshold && _queue.TryDequeue(out QueuedPacket item))
            {
                batch.Add(item);
                bytes += item.FrameSize;
                _queuedBytes -= item.FrameSize;
            }

            return true;
        }
    }

    /// <summary>
    /// A connection to this peer completed its handshake. Keeps one connection per peer: when one
    /// is already in use, both sides keep the one dialled by the lower ident (on a tie, the newer:
    /// the same side dialled twice only because it lost the first) and close the other.
    /// </summary>
    public void Attach(PeerConnection connection, uint version)
    {
        PeerConnection? loser = null;
        PeerConnection winner = connection;
        bool closed;
        lock (_lock)
        {
            if (connection.Direction == ConnectionDirection.Outbound)
            {
                _dialling = false;
            }

            _lastVersion = version;
            closed = _closed;
            if (!closed)
            {
                if (_active is null)
                {
                    _active = connection;
                }
                else
                {
                    winner = Prefer(_active, connection);
                    loser = winner == connection ? _active : connection;
                    _active = winner;
                }

                _failures = 0;
                _backoffUntil = 0;
            }
        }

        if (closed)
        {
            connection.RequestClose(CloseKind.Shutdown, "the corral is shutting down");
            return;
        }

        if (loser is not null)
        {
            CorralLog.Duplicate(_corral.Logger, loser.Describe(), Dialler(winner));
            loser.RequestClose(CloseKind.Duplicate, $"another connection with {Ident} is kept (the one dialled by {Dialler(winner)})");
        }

        winner.Doorbell.Ring();
    }

    /// <summary>
    /// <paramref name="connection"/> is closing or closed. If it was the one in use and packets
    /// still wait, dial again at once: the peer may have closed it because it keeps another
    /// connection (see <see cref="Attach"/>), or it may be gone, in which case the dial fails fast
    /// and the packets become undeliverable.
    /// </summary>
    public void Release(PeerConnection connection)
    {
        bool dial = false;
        int queued;
        lock (_lock)
        {
            if (_active != connection)
            {
                return;
            }

            _active = null;
            queued = _queue.Count;
            if (!_closed && queued > 0 && !_dialling)
            {
                _dialling = true;
                dial = true;
            }
        }

        if (dial)
        {
            CorralLog.Redialling(_corral.Logger, connection.Describe(), queued);
            _corral.StartDial(this);
        }
    }

    /// <summary>The dial failed: back off and hand every queued packet to the undeliverable callback, unless another connection serves the peer.</summary>
    public void DialFailed(ConnectionFailure failure, string reason)
    {
        List<QueuedPacket>? dropped = null;
        TimeSpan delay = TimeSpan.Zero;
        lock (_lock)
        {
            if (!_dialling)
            {
                return;
            }

            _dialling = false;
            if (_closed || _active is not null)
            {
                return;
            }

            _failures++;
            delay = Backoff.Delay(_failures, _corral.Options.ReconnectMin, _corral.Options.ReconnectMax);
            _backoffUntil = Environment.TickCount64 + Math.Max(1, (long)delay.TotalMilliseconds);
            dropped = DrainLocked();
        }

        if (_corral.Logger.IsEnabled(LogLevel.Warning))
        {
            CorralLog.DialFailed(_corral.Logger, Ident, failure.ToMetricName(), reason, dropped.Count, delay);
        }

        Undeliverable(dropped, $"{Ident} is unreachable: {reason}");
    }

    /// <summary>A packet the writer could not send (too large for the peer, or the connection failed mid-send).</summary>
    public void Undeliverable(List<QueuedPacket> packets, string reason)
    {
        foreach (QueuedPacket item in packets)
        {
            _corral.Undeliverable(item.Packet, reason);
        }
    }

    /// <summary>The corral shuts down: refuse new packets and hand the queued ones to the undeliverable callback.</summary>
    public void Close()
    {
        List<QueuedPacket> dropped;
        lock (_lock)
        {
            _closed = true;
            _active = null;
            dropped = DrainLocked();
        }

        Undeliverable(dropped, "the corral is shutting down");
    }

    public PeerStatus Snapshot()
    {
        PeerConnection? active;
        PeerState state;
        int queued;
        long queuedBytes;
        uint version;
        TimeSpan backoff = TimeSpan.Zero;
        lock (_lock)
        {
            active = _active;
            queued = _queue.Count;
            queuedBytes = _queuedBytes;
            version = _lastVersion;
            long now = Environment.TickCount64;
            if (active is not null)
            {
                state = PeerState.Connected;
            }
            else if (_dialling)
            {
                state = PeerState.Connecting;
            }
            else if (_backoffUntil != 0 && now < _backoffUntil)
            {
                state = PeerState.Backoff;
                backoff = TimeSpan.FromMilliseconds(_backoffUntil - now);
            }
            else
            {
                state = PeerState.Idle;
            }
        }

        return new PeerStatus(
            Ident,
            state,
            active?.RemoteEndPoint,
            active?.Direction,
            version,
            active?.MaxFrameSize ?? 0,
            queued,
            queuedBytes,
            Volatile.Read(ref FramesIn),
            Volatile.Read(ref BytesIn),
            Volatile.Read(ref FramesOut),
            Volatile.Read(ref BytesOut),
            backoff);
    }

    private List<QueuedPacket> DrainLocked()
    {
        var dropped = new List<QueuedPacket>(_queue.Count);
        while (_queue.TryDequeue(out QueuedPacket item))
        {
            dropped.Add(item);
        }

        _queuedBytes = 0;
        return dropped;
    }

    private Ident Dialler(PeerConnection connection) =>
        connection.Direction == ConnectionDirection.Outbound ? _corral.Self : Ident;

    private PeerConnection Prefer(PeerConnection current, PeerConnection incoming)
    {
        Ident a = Dialler(current);
        Ident b = Dialler(incoming);
        if (a == b)
        {
            return incoming;
        }

        return a.Value < b.Value ? current : incoming;
    }
}
