using System.Buffers;
using Kaze.Core;
using Kaze.Protocol;

namespace Kaze.Host.Transport;

/// <summary>What became of a packet handed to <see cref="RecordSender.TryWrite"/>.</summary>
internal enum SendResult
{
    /// <summary>In the ring, published.</summary>
    Written,

    /// <summary>The ring was full: queued for the drainer, which keeps the order.</summary>
    Queued,

    /// <summary>The ring was full and the queue is at its limit: nothing done; wait and retry.</summary>
    QueueFull,

    /// <summary>The channel is closed or the sidecar is gone: nothing done.</summary>
    Closed,
}

/// <summary>
/// Writes packets into the host → sidecar ring for many threads. The ring has one producer at a
/// time, so writes go through a lock; a packet is encoded straight into the claimed ring space
/// when it fits, and into a pooled buffer on a queue when the ring is full. A drainer thread
/// waits for space and moves queued packets into the ring in order. Nothing here ever waits for
/// the ring on the caller's thread: the reader thread answers requests through this class, and
/// a reader that waited for ring space could deadlock with a sidecar waiting for the other ring.
/// </summary>
internal sealed class RecordSender : IDisposable
{
    // How long the drainer sleeps in one wait before it re-checks for shutdown.
    private static readonly TimeSpan DrainWaitSlice = TimeSpan.FromMilliseconds(200);

    private readonly IHostTransport _transport;
    private readonly int _maxQueued;
    // Guards the transport's producer half, _overflow, _closed and _queueChanged.
    private readonly Lock _lock = new();
    // Encoded packets waiting for ring space, oldest first. While it is not empty only the drainer
    // writes to the ring, which keeps packets in the order they were sent.
    private readonly Queue<QueuedRecord> _overflow = new();
    // Released when the queue goes from empty to non-empty, and on shutdown.
    private readonly SemaphoreSlim _drainSignal = new(0, int.MaxValue);
    private readonly Thread _drainer;
    // Completed (and cleared) whenever the queue shrinks or the sender closes; created on demand by waiters.
    private TaskCompletionSource? _queueChanged;
    // No more writes: the channel ended or the client is shutting down.
    private bool _closed;
    private volatile bool _stopping;

    public RecordSender(IHostTransport transport, int maxQueued)
    {
        _transport = transport;
        _maxQueued = maxQueued;
        _drainer = new Thread(DrainLoop) { IsBackground = true, Name = "kaze-host-drain " + transport.Name };
        _drainer.Start();
    }

    /// <summary>Packets waiting for ring space.</summary>
    public int QueuedCount
    {
        get
        {
            lock (_lock)
            {
                return _overflow.Count;
            }
        }
    }

    /// <summary>
    /// Writes one packet of exactly <paramref name="size"/> bytes (<see cref="RingFraming.GetPayloadSize"/>),
    /// or queues it. Never waits for the ring. <paramref name="bypassLimit"/> queues past the limit
    /// (the reader thread's responses must never be refused or held back).
    /// </summary>
    public SendResult TryWrite(Hdr header, ReadOnlySpan<byte> body, int size, bool bypassLimit)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return SendResult.Closed;
            }

            if (_overflow.Count == 0)
            {
                ChannelStatus status = _transport.TryClaim(size, out Span<byte> payload);
                if (status == ChannelStatus.Ok)
                {
                    try
                    {
                        RingFraming.Write(payload, header, body, size);
                    }
                    catch
                    {
                        _transport.Abandon();
                        throw;
                    }

                    _transport.Commit(size);
                    return SendResult.Written;
                }

                if (status != ChannelStatus.Full)
                {
                    // Closed (either side) — TooLarge cannot happen: callers check the size first.
                    return SendResult.Closed;
                }
            }

            if (!bypassLimit && _overflow.Count >= _maxQueued)
            {
                return SendResult.QueueFull;
            }

            byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
            RingFraming.Write(buffer, header, body, size);
            _overflow.Enqueue(new QueuedRecord(buffer, size));
            if (_overflow.Count == 1)
            {
                _drainSignal.Release();
            }

            return SendResult.Queued;
        }
    }

    /// <summary>Completes when the queue has room for another packet (or the sender closed).</summary>
    public Task WaitForQueueSpaceAsync(CancellationToken ct) => WaitAsync(static s => s._overflow.Count < s._maxQueued, ct);

    /// <summary>Completes when every queued packet is in the ring (or the sender closed).</summary>
    public Task WaitForEmptyAsync(CancellationToken ct) => WaitAsync(static s => s._overflow.Count == 0, ct);

    /// <summary>Refuses further writes, drops what is queued and stops the drainer.</summary>
    /// <returns>Whether the drainer has stopped (false: it may still touch the ring, so keep the mapping).</returns>
    public bool Close()
    {
        _stopping = true;
        lock (_lock)
        {
            CloseLocked();
        }

        _drainSignal.Release();
        return Thread.CurrentThread == _drainer || _drainer.Join(TimeSpan.FromSeconds(5));
    }

    public void Dispose() => Close();

    private async Task WaitAsync(Func<RecordSender, bool> done, CancellationToken ct)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_closed || done(this))
                {
                    return;
                }

                _queueChanged ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed = _queueChanged.Task;
            }

            await changed.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    // Caller holds _lock.
    private void SignalQueueChanged()
    {
        TaskCompletionSource? changed = _queueChanged;
        _queueChanged = null;
        changed?.TrySetResult();
    }

    // Caller holds _lock.
    private void CloseLocked()
    {
        _closed = true;
        while (_overflow.TryDequeue(out QueuedRecord record))
        {
            ArrayPool<byte>.Shared.Return(record.Buffer);
        }

        SignalQueueChanged();
    }

    private void DrainLoop()
    {
        while (!_stopping)
        {
            _drainSignal.Wait();
            while (!_stopping)
            {
                int length;
                lock (_lock)
                {
                    if (!_overflow.TryPeek(out QueuedRecord record))
                    {
                        break;
                    }

                    length = record.Length;
                    ChannelStatus status = _transport.TryClaim(length, out Span<byte> payload);
                    if (status == ChannelStatus.Ok)
                    {
                        record.Buffer.AsSpan(0, length).CopyTo(payload);
                        _transport.Commit(length);
                        _overflow.Dequeue();
                        ArrayPool<byte>.Shared.Return(record.Buffer);
                        SignalQueueChanged();
                        continue;
                    }

                    if (status != ChannelStatus.Full)
                    {
                        CloseLocked();
                        return;
                    }
                }

                // Outside the lock: senders queue behind us while the queue is not empty, so this
                // thread is the ring's only producer for the duration of the wait.
                ChannelStatus waited = _transport.WaitForSpace(length, DrainWaitSlice);
                if (waited is not (ChannelStatus.Ok or ChannelStatus.TimedOut or ChannelStatus.Full))
                {
                    // Closed, or the sidecar is gone: what waits will never be read.
                    lock (_lock)
                    {
                        CloseLocked();
                    }

                    return;
                }
            }
        }
    }

    private readonly record struct QueuedRecord(byte[] Buffer, int Length);
}
