using Kaze.Mesh.Connections;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Mesh.Sessions;

/// <summary>A packet waiting for a peer, with the size of its frame (computed once, at queueing).</summary>
internal readonly record struct QueuedPacket(Packet Packet, int FrameSize);

/// <summary>What the holder of a connection's right to write does next (<see cref="PeerSession.TakeNext"/>).</summary>
internal enum WriteStep
{
    /// <summary>Write the batch taken.</summary>
    Batch,

    /// <summary>Nothing to write: the right to write was given up.</summary>
    Released,

    /// <summary>The connection closes: keep the right for good and shut down the write side.</summary>
    Finish,
}

/// <summary>What <see cref="PeerSession.TrySend"/> does once the session's lock is released.</summary>
internal enum AfterSend
{
    /// <summary>Queued behind a writer that will take it.</summary>
    Nothing,

    /// <summary>The caller writes its packet itself, without blocking.</summary>
    WriteNow,

    /// <summary>A burst: the connection's writer thread writes the queue, with what follows.</summary>
    WriteLater,

    /// <summary>The caller's batch keeps the right to write and writes the queue when it ends.</summary>
    Keep,

    /// <summary>The caller writes what is queued (a batch had kept it).</summary>
    WriteQueued,

    /// <summary>No connection and none under way: the caller starts a dial.</summary>
    Dial,
}

/// <summary>
/// Everything the corral knows about one peer ident: the bounded queue of packets for it, the
/// connection currently used to send to it, and the dial and backoff state. The queue belongs to
/// the session, not to a connection, so a connection can be replaced (duplicate, reconnect)
/// without losing what waits.
/// </summary>
/// <remarks>
/// <para>
/// Every field below is guarded by <see cref="_lock"/> unless its comment says otherwise, and so is
/// each connection's right to write (<see cref="PeerConnection.Writing"/>). Nothing is called back
/// (logging aside) while the lock is held: undeliverable packets, dials and writes are decided
/// under the lock and done after it.
/// </para>
/// <para>
/// Writing: a sender that finds the queue empty and the connection's right to write free takes the
/// right and writes its packet itself (<see cref="PeerSender.SendInline"/>); otherwise the
/// packet is queued, and whoever holds the right takes it (<see cref="TakeNext"/>) before giving
/// the right up, which it does only under the lock with the queue empty. So a queued packet
/// always has a writer coming, or no connection yet (the dial drains it in <see cref="Attach"/>),
/// and packets leave in queue order.
/// </para>
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

    // Environment.TickCount64 when the session last queued a packet or lost a connection or a dial; for pruning.
    private long _lastUsed = Environment.TickCount64;

    // Removed from the corral by the idle sweep: a new session serves the ident from now on.
    private bool _retired;

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

    /// <summary>
    /// Writes the packet now if nothing else is being written to the peer, else queues it, starting
    /// a dial if there is no connection. Ownership passes only on Queued.
    /// </summary>
    /// <returns>False if the session was retired: ask the corral for the current one.</returns>
    public bool TrySend(Packet packet, int frameSize, out SendResult result)
    {
        AfterSend then = AfterSend.Nothing;
        PeerConnection? connection = null;
        SendBatch? batch = null;
        lock (_lock)
        {
            if (_retired)
            {
                result = SendResult.Unreachable;
                return false;
            }

            if (_closed)
            {
                result = SendResult.Unreachable;
                return true;
            }

            PeerConnection? active = _active;
            bool idle = active is null && !_dialling;
            if (idle && _backoffUntil != 0 && Environment.TickCount64 < _backoffUntil)
            {
                result = SendResult.Unreachable;
                return true;
            }

            if (active is not null && _queue.Count == 0 && !active.Writing && !active.StopWriting)
            {
                // Nothing is waiting or being written: the right to write is taken for this packet.
                // In a batch, the batch keeps the right and writes the packet when it ends;
                // otherwise this caller writes it at once, or, right behind another packet (a
                // burst), the connection's writer thread writes it with those that follow.
                active.Writing = true;
                connection = active;
                batch = SendBatch.Current;
                if (batch is not null)
                {
                    active.HeldBy = batch;
                    then = AfterSend.Keep;
                }
                else
                {
                    then = active.Sender.WroteWithin(_corral.BurstWindowTicks) ? AfterSend.WriteLater : AfterSend.WriteNow;
                }

                if (then != AfterSend.WriteNow)
                {
                    Enqueue(packet, frameSize);
                }
            }
            else
            {
                // One packet is always allowed into an empty queue, whatever its size.
                if (_queue.Count >= _corral.Options.MaxQueuedPackets ||
                    (_queue.Count > 0 && _queuedBytes + frameSize > _corral.Options.MaxQueuedBytes))
                {
                    result = SendResult.QueueFull;
                    return true;
                }

                Enqueue(packet, frameSize);
                _lastUsed = Environment.TickCount64;
                if (idle)
                {
                    _dialling = true;
                    _backoffUntil = 0;
                    then = AfterSend.Dial;
                }
                else if (active is not null && active.HeldBy is { } holder &&
                    (holder != SendBatch.Current || _queue.Count >= MaxBatchPackets || _queuedBytes >= FlushThreshold))
                {
                    // Kept by a batch: another thread's packet never waits for it, and neither does a
                    // writer batch's worth. This caller writes what is queued now.
                    active.HeldBy = null;
                    connection = active;
                    then = AfterSend.WriteQueued;
                }
            }
        }

        switch (then)
        {
            case AfterSend.WriteNow:
                connection!.Sender.SendInline(new QueuedPacket(packet, frameSize));
                break;
            case AfterSend.WriteLater:
                connection!.Sender.WriteLater();
                break;
            case AfterSend.Keep:
                batch!.Keep(connection!);
                break;
            case AfterSend.WriteQueued:
                connection!.Sender.DrainQueued();
                break;
            case AfterSend.Dial:
                _corral.StartDial(this);
                break;
        }

        result = SendResult.Queued;
        return true;
    }

    /// <summary>Adds a packet at the end of the queue; under the lock.</summary>
    private void Enqueue(Packet packet, int frameSize)
    {
        _queue.Enqueue(new QueuedPacket(packet, frameSize));
        _queuedBytes += frameSize;
    }

    /// <summary>
    /// For the holder of <paramref name="connection"/>'s right to write, once what it had is sent:
    /// the next packets into <paramref name="batch"/>, or, with nothing to write, the right given
    /// up. A connection that is no longer the one in use gets nothing; one that is closing keeps the
    /// right for good and shuts down its write side. That happens only once
    /// <see cref="PeerConnection.RequestClose"/> (or a failure) recorded why, so the peer never sees
    /// the end of a duplicate before this side has counted it as one.
    /// </summary>
    public WriteStep TakeNext(PeerConnection connection, List<QueuedPacket> batch)
    {
        lock (_lock)
        {
            if (connection.StopWriting)
            {
                return WriteStep.Finish;
            }

            if (_active == connection)
            {
                long bytes = 0;
                while (batch.Count < MaxBatchPackets && bytes < FlushThreshold && _queue.TryDequeue(out QueuedPacket item))
                {
                    batch.Add(item);
                    bytes += item.FrameSize;
                    _queuedBytes -= item.FrameSize;
                }

                if (batch.Count > 0)
                {
                    return WriteStep.Batch;
                }
            }

            connection.Writing = false;
            return WriteStep.Released;
        }
    }

    /// <summary>
    /// <paramref name="batch"/> ends: the number of packets queued if it still keeps
    /// <paramref name="connection"/>'s right to write, which passes to the caller (it has them
    /// written), or -1 if they were written earlier.
    /// </summary>
    public int EndHold(PeerConnection connection, SendBatch batch)
    {
        lock (_lock)
        {
            if (connection.HeldBy != batch)
            {
                return -1;
            }

            connection.HeldBy = null;
            return _queue.Count;
        }
    }

    /// <summary>
    /// <paramref name="connection"/> closes (<see cref="PeerConnection.StopWriting"/> is set): if
    /// nobody holds its right to write, take it for good and shut down its write side now;
    /// otherwise the holder does when it finishes.
    /// </summary>
    public void CompleteWrites(PeerConnection connection)
    {
        lock (_lock)
        {
            if (connection.Writing)
            {
                return;
            }

            connection.Writing = true;
        }

        connection.Sender.FinishWrites();
    }

    /// <summary>
    /// A connection to this peer completed its handshake. Keeps one connection per peer: when one
    /// is already in use, both sides keep the one dialled by the lower ident (on a tie, the newer:
    /// the same side dialled twice only because it lost the first) and close the other.
    /// </summary>
    /// <returns>False if the session was retired: attach to the corral's current one.</returns>
    public bool Attach(PeerConnection connection, uint version)
    {
        PeerConnection? loser = null;
        PeerConnection winner = connection;
        bool closed;
        bool drain = false;
        lock (_lock)
        {
            if (_retired)
            {
                return false;
            }

            if (connection.Direction == ConnectionDirection.Outbound)
            {
                _dialling = false;
            }

            _lastVersion = version;
            _lastUsed = Environment.TickCount64;
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

                // Packets queued while dialling (or while no connection was in use) are written now.
                if (_queue.Count > 0 && !winner.Writing && !winner.StopWriting)
                {
                    winner.Writing = true;
                    drain = true;
                }
            }
        }

        if (closed)
        {
            connection.RequestClose(CloseKind.Shutdown, "the corral is shutting down");
            return true;
        }

        if (loser is not null)
        {
            CorralLog.Duplicate(_corral.Logger, loser.Describe(), Dialler(winner));
            loser.RequestClose(CloseKind.Duplicate, $"another connection with {Ident} is kept (the one dialled by {Dialler(winner)})");
        }

        if (drain)
        {
            winner.Sender.DrainQueued();
        }

        return true;
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
            _lastUsed = Environment.TickCount64;
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
            _lastUsed = Environment.TickCount64;
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

    /// <summary>
    /// The peer left the mesh (discovery no longer lists it): retire the session, close its
    /// connection and hand the queued packets to the undeliverable callback. The corral makes a
    /// new session if the peer is sent to (or connects) again.
    /// </summary>
    public void Evict(string reason)
    {
        List<QueuedPacket> dropped;
        PeerConnection? active;
        lock (_lock)
        {
            _retired = true;
            active = _active;
            _active = null;
            dropped = DrainLocked();
        }

        active?.RequestClose(CloseKind.Shutdown, reason);
        Undeliverable(dropped, reason);
    }

    /// <summary>
    /// True while the last attempt to reach the peer failed and its backoff runs, with no
    /// connection: a send now would be refused. Read without the lock (a racy answer is fine for
    /// picking among members).
    /// </summary>
    public bool IsBackingOff(long now) => Volatile.Read(ref _active) is null && now < Volatile.Read(ref _backoffUntil);

    /// <summary>
    /// For the idle sweep: retires the session if nothing has used it for <paramref name="idleMs"/>
    /// (no connection, no dial, nothing queued, no backoff running), so that sessions for peers that
    /// are gone do not pile up. A retired session refuses everything; the corral makes a new one.
    /// </summary>
    /// <returns>True if retired now: remove it from the corral.</returns>
    public bool TryRetire(long now, long idleMs)
    {
        lock (_lock)
        {
            if (_retired || _closed || _active is not null || _dialling || _queue.Count > 0 ||
                now < _backoffUntil || now - _lastUsed < idleMs)
            {
                return false;
            }

            _retired = true;
            return true;
        }
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
