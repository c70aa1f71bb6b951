using Kaze.Protocol;

namespace Kaze.Http.Flow;

/// <summary>
/// The receiving end of one body: the packets that carry it, in order, for one reader. The
/// sender may only send what this side granted; as the reader consumes bytes, more is granted
/// (half a window at a time), so a slow reader slows the sender and at most a window of the
/// body is ever held here. The window is the gateway's <see cref="WindowBudget"/>'s at each grant.
/// </summary>
/// <remarks>
/// Packets are kept as they arrived (no copy) and disposed once read. One thread adds (the node's
/// delivery), one reads at a time (the forwarder's copy loop); everything is under one lock.
/// </remarks>
internal sealed class BodyInbox : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<Packet> _chunks = new();
    private readonly WindowBudget _windows;

    // 1 once this body left the budget (read to its end, failed or disposed).
    private int _left;

    // Sends the sender a grant of more bytes; called outside the lock.
    private readonly Action<int> _grant;

    // Bytes of _chunks.Peek() already read.
    private int _offset;

    // What the sender may still send: granted and not yet received.
    private long _allowance;

    // Bytes read since the last grant.
    private int _unread;

    // The sender's body is complete (all of it is in _chunks or read).
    private bool _ended;

    // Set when the exchange failed before the body ended: the reader gets it (as an IOException).
    private Exception? _failure;

    // The reader waiting for bytes, the end or a failure; null while none waits.
    private TaskCompletionSource? _waiter;

    public BodyInbox(WindowBudget windows, long allowance, Action<int> grant)
    {
        _windows = windows;
        _allowance = allowance;
        _grant = grant;
        windows.Enter();
    }

    /// <summary>The window this body gets now (the size of a first grant).</summary>
    public int Window => _windows.Current;

    /// <summary>Allows the sender <paramref name="bytes"/> more without telling it (a window it already knows, e.g. a head's <c>:window</c>).</summary>
    public void Allow(int bytes)
    {
        lock (_lock)
        {
            _allowance += bytes;
        }
    }

    /// <summary>Whether the body has ended (every byte arrived).</summary>
    public bool Ended
    {
        get
        {
            lock (_lock)
            {
                return _ended;
            }
        }
    }

    /// <summary>Grants the sender <paramref name="bytes"/> more, now (the first grant of a body).</summary>
    public void Grant(int bytes)
    {
        lock (_lock)
        {
            if (_ended || _failure is not null)
            {
                return;
            }

            _allowance += bytes;
        }

        _grant(bytes);
    }

    /// <summary>
    /// Adds a packet's body bytes (and the end, if it carries it); takes the packet. False when
    /// they are more than was granted, or come after the end: the sender broke the rules and the
    /// exchange must be reset. After a failure packets are dropped.
    /// </summary>
    public bool TryAdd(Packet packet, bool end)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            int length = packet.BodyLength;
            if (_failure is not null)
            {
                packet.Dispose();
                return true;
            }

            if (_ended || length > _allowance)
            {
                packet.Dispose();
                return false;
            }

            _allowance -= length;
            if (length > 0)
            {
                _chunks.Enqueue(packet);
            }
            else
            {
                packet.Dispose();
            }

            _ended |= end;
            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult();
        return true;
    }

    /// <summary>Fails the body unless it already ended: the reader gets <paramref name="failure"/> at once, and what was held is dropped.</summary>
    public void Fail(Exception failure) => Fail(failure, evenIfEnded: false);

    private void Fail(Exception failure, bool evenIfEnded)
    {
        Leave();
        TaskCompletionSource? wake;
        lock (_lock)
        {
            if ((_ended && !evenIfEnded) || _failure is not null)
            {
                return;
            }

            _failure = failure;
            DropChunks();
            wake = _waiter;
            _waiter = null;
        }

        wake?.TrySetResult();
    }

    /// <summary>
    /// Reads body bytes into <paramref name="destination"/>: the count, 0 at the end. With an
    /// empty destination, waits until bytes (or the end) are there and returns 0.
    /// </summary>
    /// <exception cref="IOException">The exchange failed before the body ended.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            int copied = 0;
            int grant = 0;
            lock (_lock)
            {
                if (_failure is not null)
                {
                    throw new IOException(_failure.Message, _failure);
                }

                if (_chunks.Count > 0)
                {
                    if (destination.Length == 0)
                    {
                        return 0;
                    }

                    copied = CopyOut(destination.Span);
                    _unread += copied;
                    if (!_ended && _unread >= _windows.Current / 2)
                    {
                        grant = _unread;
                        _allowance += grant;
                        _unread = 0;
                    }
                }
                else if (_ended)
                {
                    Leave();
                    return 0;
                }

                if (copied == 0)
                {
                    _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _waiter.Task;
                }
                else
                {
                    wait = Task.CompletedTask;
                }
            }

            if (copied > 0)
            {
                if (grant > 0)
                {
                    _grant(grant);
                }

                return copied;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Drops what is held; later reads fail, later packets are dropped.</summary>
    public void Dispose() => Fail(new ObjectDisposedException(nameof(BodyInbox), "The exchange is over."), evenIfEnded: true);

    // The body is no longer open (read to its end, failed or disposed): the budget shares among the others.
    private void Leave()
    {
        if (Interlocked.Exchange(ref _left, 1) == 0)
        {
            _windows.Leave();
        }
    }

    // Under _lock.
    private int CopyOut(Span<byte> destination)
    {
        int copied = 0;
        while (copied < destination.Length && _chunks.Count > 0)
        {
            Packet head = _chunks.Peek();
            ReadOnlySpan<byte> rest = head.BodySpan[_offset..];
            int n = Math.Min(rest.Length, destination.Length - copied);
            rest[..n].CopyTo(destination[copied..]);
            copied += n;
            _offset += n;
            if (_offset == head.BodyLength)
            {
                _chunks.Dequeue().Dispose();
                _offset = 0;
            }
        }

        return copied;
    }

    // Under _lock.
    private void DropChunks()
    {
        while (_chunks.TryDequeue(out Packet? packet))
        {
            packet.Dispose();
        }

        _offset = 0;
    }
}
