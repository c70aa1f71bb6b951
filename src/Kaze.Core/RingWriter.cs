using System.Diagnostics;
using System.Runtime.CompilerServices;
using Kaze.Core.Waiting;
using static Kaze.Core.ChannelLayout;

namespace Kaze.Core;

/// <summary>
/// The producing end of one ring: claim space, write the payload in place, commit. Single
/// producer: use it from one thread (or one async flow) at a time.
/// </summary>
/// <remarks>
/// A commit normally publishes at once. To publish a batch with one fence and at most one wake,
/// commit with <c>publish: false</c> and call <see cref="Publish"/> after the last record.
/// Blocking and async waits publish pending records before they sleep.
/// </remarks>
public sealed unsafe class RingWriter
{
    private readonly ShmChannel _channel;
    private readonly byte* _data;
    private readonly long _mask;
    private readonly int _capacity;
    // Shared words: tail is ours (release-published); head is the consumer's (acquire-read).
    private readonly long* _tail;
    private readonly long* _head;
    // The consumer's data futex, woken after publishing when it says it sleeps.
    private readonly int* _dataFutex;
    private readonly RingWaiter _waiter;

    // Private to this process: where the next record goes (committed but maybe unpublished).
    private long _writePos;
    // The tail last published to the file.
    private long _publishedPos;
    // The consumer's head as last read; refreshed only when it looks too small (saves a cache miss per claim).
    private long _headCache;
    // The pending claim: position of its length word and its claimed payload length; -1 when none.
    private long _claimPos = -1;
    private int _claimLength;
    // "ring N (who -> whom)", for messages.
    private readonly string _name;

    internal RingWriter(ShmChannel channel, byte* ring, int capacity, string name)
    {
        _name = name;
        _channel = channel;
        _capacity = capacity;
        _mask = capacity - 1;
        _data = ring + RingControlSize;
        _tail = (long*)(ring + TailOffset);
        _head = (long*)(ring + HeadOffset);
        _dataFutex = (int*)(ring + DataFutexOffset);
        _waiter = new RingWaiter(channel, (int*)(ring + SpaceFutexOffset));
        // Start where the file says (0 in a fresh channel: one host per channel).
        long tail = Volatile.Read(ref *_tail);
        if ((tail & (RecordAlignment - 1)) != 0 || tail < 0)
        {
            // Left so by another host (or a hostile one): no record can start there. Writing from 0
            // keeps every write inside the data area; the reader on the other side will find the
            // ring corrupt if it believes that tail.
            tail = 0;
        }

        _writePos = tail;
        _publishedPos = tail;
        _headCache = Math.Min(Volatile.Read(ref *_head), tail);
    }

    /// <summary>Bytes in the ring's data area.</summary>
    public int Capacity => _capacity;

    /// <summary>The largest payload a single record may have: capacity / 2 − 4.</summary>
    public int MaxRecordLength => ChannelLayout.MaxRecordLength(_capacity);

    /// <summary>Bytes written but not yet consumed, as the file says now.</summary>
    public long UsedBytes => _channel.IsDisposed ? 0 : Volatile.Read(ref *_tail) - Volatile.Read(ref *_head);

    /// <summary>Waits that had to sleep in the kernel because the ring was full.</summary>
    public long BlockedWaits => _waiter.BlockedWaits;

    /// <summary>
    /// Reserves space for a record of <paramref name="length"/> bytes and returns a span over its
    /// payload in the shared memory. Nothing is visible to the reader until <see cref="Commit()"/>.
    /// </summary>
    /// <returns>
    /// <see cref="ChannelStatus.Ok"/>, <see cref="ChannelStatus.Full"/>, <see cref="ChannelStatus.TooLarge"/>,
    /// <see cref="ChannelStatus.Closed"/>, or <see cref="ChannelStatus.Corrupt"/> when the consumer's head
    /// is impossible (the channel is then closed; <see cref="ShmChannel.Corruption"/> says why).
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ChannelStatus TryClaim(int length, out Span<byte> payload)
    {
        if (_claimPos >= 0)
        {
            ThrowHelper.ThrowClaimPending();
        }

        if ((uint)length > (uint)MaxRecordLength)
        {
            payload = default;
            return length < 0 ? NegativeLength(length) : ChannelStatus.TooLarge;
        }

        if (!_channel.IsOpenFast)
        {
            payload = default;
            return ChannelStatus.Closed;
        }

        long recordSize = RecordSize(length);
        long pos = _writePos;
        long offset = pos & _mask;
        long toEnd = _capacity - offset;
        long needed = toEnd >= recordSize ? recordSize : toEnd + recordSize;
        if (_capacity - (pos - _headCache) < needed)
        {
            if (!RefreshHead())
            {
                payload = default;
                return ChannelStatus.Corrupt;
            }

            if (_capacity - (pos - _headCache) < needed)
            {
                payload = default;
                return ChannelStatus.Full;
            }
        }

        if (toEnd < recordSize)
        {
            // The record would straddle the end: a padding record fills the rest, and the skipped
            // bytes count as used because the positions move past them (the starwing/kaze bug was
            // not counting them). Plain store: invisible to the reader until the tail is published.
            *(uint*)(_data + offset) = PaddingLength;
            pos += toEnd;
            offset = 0;
        }

        _claimPos = pos;
        _claimLength = length;
        payload = new Span<byte>(_data + offset + RecordHeaderSize, length);
        return ChannelStatus.Ok;
    }

    /// <summary>Commits the pending claim with its full length and publishes it.</summary>
    public void Commit() => Commit(_claimLength, publish: true);

    /// <summary>
    /// Commits the pending claim with <paramref name="length"/> bytes (at most the claimed length,
    /// so a writer may claim a bound and write less), and publishes it unless <paramref name="publish"/> is false.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Commit(int length, bool publish = true)
    {
        long pos = _claimPos;
        if (pos < 0)
        {
            ThrowHelper.ThrowNoClaim();
        }

        if ((uint)length > (uint)_claimLength)
        {
            ThrowHelper.ThrowCommitTooLong(length, _claimLength);
        }

        // Plain store: ordered before the tail by the Interlocked publish below.
        *(uint*)(_data + (pos & _mask)) = (uint)length;
        _writePos = pos + RecordSize(length);
        _claimPos = -1;
        if (publish)
        {
            Publish();
        }
    }

    /// <summary>Drops the pending claim; nothing is written.</summary>
    public void Abandon() => _claimPos = -1;

    /// <summary>Makes every committed record visible to the reader, and wakes it if it sleeps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish()
    {
        long pos = _writePos;
        if (pos == _publishedPos || _channel.IsDisposed)
        {
            return;
        }

        _publishedPos = pos;
        // Release of the records plus a full fence: the load of the consumer's futex word below
        // must not be reordered before this store (StoreLoad), or a sleeping reader could be missed.
        Interlocked.Exchange(ref *_tail, pos);
        RingWaiter.WakeIfSleeping(_dataFutex);
    }

    /// <summary>Copies <paramref name="record"/> into the ring and publishes it, if it fits now.</summary>
    public ChannelStatus TryWrite(ReadOnlySpan<byte> record)
    {
        ChannelStatus status = TryClaim(record.Length, out Span<byte> payload);
        if (status == ChannelStatus.Ok)
        {
            record.CopyTo(payload);
            Commit(record.Length);
        }

        return status;
    }

    /// <summary>Claims space, waiting up to <paramref name="timeout"/> for it (<see cref="Timeout.InfiniteTimeSpan"/> for no limit).</summary>
    public ChannelStatus Claim(int length, out Span<byte> payload, TimeSpan timeout, CancellationToken ct = default)
    {
        long timeoutTicks = timeout == Timeout.InfiniteTimeSpan ? -1 : (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            ChannelStatus status = TryClaim(length, out payload);
            if (status != ChannelStatus.Full)
            {
                return status;
            }

            status = WaitForSpace(length, timeoutTicks, ct);
            if (status != ChannelStatus.Ok)
            {
                return status;
            }
        }
    }

    /// <summary>Copies <paramref name="record"/> into the ring, waiting up to <paramref name="timeout"/> for space.</summary>
    public ChannelStatus Write(ReadOnlySpan<byte> record, TimeSpan timeout, CancellationToken ct = default)
    {
        ChannelStatus status = Claim(record.Length, out Span<byte> payload, timeout, ct);
        if (status == ChannelStatus.Ok)
        {
            record.CopyTo(payload);
            Commit(record.Length);
        }

        return status;
    }

    /// <summary>Waits without blocking a thread until a record of <paramref name="length"/> bytes fits.</summary>
    public ValueTask<ChannelStatus> WaitToWriteAsync(int length, CancellationToken ct = default)
    {
        if (length < 0)
        {
            return new ValueTask<ChannelStatus>(NegativeLength(length));
        }

        if (length > MaxRecordLength)
        {
            return new ValueTask<ChannelStatus>(ChannelStatus.TooLarge);
        }

        if (_channel.IsDisposed)
        {
            return new ValueTask<ChannelStatus>(ChannelStatus.Closed);
        }

        Publish();
        return _waiter.WaitAsync(new SpaceAvailable(this, length), ct);
    }

    private ChannelStatus WaitForSpace(int length, long timeoutTicks, CancellationToken ct)
    {
        // The reader may be waiting for what we have not published yet.
        Publish();
        return _waiter.Wait(new SpaceAvailable(this, length), timeoutTicks, ct);
    }

    /// <summary>Acquire-reads the consumer's head and says whether a record of this length fits.</summary>
    private bool HasSpaceFor(int length)
    {
        if (_channel.IsDisposed)
        {
            // End the wait; the claim that follows returns Closed without touching the file.
            return true;
        }

        long recordSize = RecordSize(length);
        long pos = _writePos;
        long toEnd = _capacity - (pos & _mask);
        long needed = toEnd >= recordSize ? recordSize : toEnd + recordSize;
        // A corrupt head ends the wait too; the claim that follows reports it.
        return !RefreshHead() || _capacity - (pos - _headCache) >= needed;
    }

    /// <summary>
    /// Acquire-reads the consumer's head and checks it before it is used: a multiple of 8, not
    /// beyond the published tail, at most a capacity behind it. On a violation the channel is
    /// closed as corrupt (<see cref="ShmChannel.Corruption"/>) and the head is not used.
    /// </summary>
    // Not inlined: only when the cached head shows too little space, and it keeps TryClaim's inlined body small.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool RefreshHead()
    {
        long head = Volatile.Read(ref *_head);
        long tail = _publishedPos;
        if ((head & (RecordAlignment - 1)) != 0 || head > tail || tail - head > _capacity)
        {
            BadHead(head, tail);
            return false;
        }

        _headCache = head;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BadHead(long head, long tail) =>
        _channel.MarkCorrupt($"{_name}: head (offset {HeadOffset}) is {head}, allowed a multiple of {RecordAlignment} from tail - capacity {tail - _capacity} to the tail {tail}");

    internal void Wake() => _waiter.Wake();

    internal void StopWorker() => _waiter.StopWorker();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ChannelStatus NegativeLength(int length)
    {
        ThrowHelper.ThrowNegativeLength(length);
        return ChannelStatus.TooLarge;
    }

    private readonly struct SpaceAvailable(RingWriter writer, int length) : IWaitCondition
    {
        public bool IsSatisfied() => writer.HasSpaceFor(length);
    }
}
