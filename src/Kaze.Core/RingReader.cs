using System.Diagnostics;
using System.Runtime.CompilerServices;
using Kaze.Core.Waiting;
using static Kaze.Core.ChannelLayout;

namespace Kaze.Core;

/// <summary>
/// The consuming end of one ring: get a span over the next record, then release. Single
/// consumer: use it from one thread (or one async flow) at a time.
/// </summary>
/// <remarks>
/// Spans returned by <see cref="TryRead(out ReadOnlySpan{byte})"/> point into the shared memory and stay valid until
/// <see cref="Release"/>. Several records may be read before one release, which frees all of them
/// with one fence and at most one wake of the writer.
/// </remarks>
public sealed unsafe class RingReader
{
    private readonly ShmChannel _channel;
    private readonly byte* _data;
    private readonly long _mask;
    private readonly int _capacity;
    // Shared words: head is ours (release-published); tail is the producer's (acquire-read).
    private readonly long* _tail;
    private readonly long* _head;
    // The producer's space futex, woken after releasing when it says it sleeps.
    private readonly int* _spaceFutex;
    private readonly RingWaiter _waiter;

    // Private to this process: the next record to read.
    private long _readPos;
    // The head last published to the file; records between it and _readPos are read but not released.
    private long _releasedPos;
    // The producer's tail as last read and checked; refreshed only when we catch up with it.
    private long _tailCache;
    // Where the records readable now end: the tail, or the end of the data area if that comes first
    // (the end of the read position's lap). Recomputed when the read position reaches it.
    private long _readLimit;
    // Why the ring was found corrupt (field, value, what was allowed); null while it is sound.
    private string? _corruption;
    // "ring N (who -> whom)", for messages.
    private readonly string _name;

    internal RingReader(ShmChannel channel, byte* ring, int capacity, string name)
    {
        _name = name;
        _channel = channel;
        _capacity = capacity;
        _mask = capacity - 1;
        _data = ring + RingControlSize;
        _tail = (long*)(ring + TailOffset);
        _head = (long*)(ring + HeadOffset);
        _spaceFutex = (int*)(ring + SpaceFutexOffset);
        _waiter = new RingWaiter(channel, (int*)(ring + DataFutexOffset));
        long head = Volatile.Read(ref *_head);
        if ((head & (RecordAlignment - 1)) != 0 || head < 0)
        {
            // A head left by another host (or a hostile one) that no record can start at.
            _corruption = $"{name}: head (offset {HeadOffset}) is {head}, allowed a non-negative multiple of {RecordAlignment}";
            head = 0;
        }

        _readPos = head;
        _releasedPos = head;
        _tailCache = head;
        _readLimit = head;
    }

    /// <summary>
    /// Why this ring was found corrupt — the field, its value and what was allowed — or null while
    /// it is sound. Set when a read first returns <see cref="ChannelStatus.Corrupt"/>; the channel is
    /// then closed (<see cref="ShmChannel.Corruption"/>).
    /// </summary>
    public string? Corruption => _corruption;

    /// <summary>Bytes in the ring's data area.</summary>
    public int Capacity => _capacity;

    /// <summary>The largest payload a single record may have.</summary>
    public int MaxRecordLength => ChannelLayout.MaxRecordLength(_capacity);

    /// <summary>Bytes written but not yet consumed, as the file says now.</summary>
    public long UsedBytes => _channel.IsDisposed ? 0 : Volatile.Read(ref *_tail) - Volatile.Read(ref *_head);

    /// <summary>Waits that had to sleep in the kernel because the ring was empty.</summary>
    public long BlockedWaits => _waiter.BlockedWaits;

    /// <summary>
    /// Gets the next unread record without copying. <see cref="ChannelStatus.Empty"/> when there is
    /// none yet, <see cref="ChannelStatus.Closed"/> when there is none and the writer has closed,
    /// <see cref="ChannelStatus.Corrupt"/> when the ring holds garbage.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ChannelStatus TryRead(out ReadOnlySpan<byte> record)
    {
        if (_channel.IsDisposed)
        {
            // The file is unmapped: nothing below may touch it.
            record = default;
            return ChannelStatus.Closed;
        }

        while (true)
        {
            long pos = _readPos;
            if (pos == _readLimit)
            {
                if (pos == _tailCache)
                {
                    // RefreshTail checks the new tail (and reports an earlier violation) before it is used.
                    if (!RefreshTail(pos))
                    {
                        ChannelStatus state = EmptyOrClosed();
                        if (state != ChannelStatus.Ok)
                        {
                            record = default;
                            return state;
                        }
                    }

                    if (_corruption is not null)
                    {
                        record = default;
                        return ReportCorrupt();
                    }
                }

                // Records of this lap end within the tail and within the data area: one bound for both.
                _readLimit = Math.Min(_tailCache, (pos | _mask) + 1);
            }

            // pos is a multiple of 8 (checked where it came from), so the length word lies within the data area.
            long offset = pos & _mask;
            // Plain load: the acquire read of the tail ordered it after the producer's writes.
            uint length = *(uint*)(_data + offset);
            if (length == PaddingLength)
            {
                // To the end of the lap, which must not pass the tail.
                long jumped = pos + (_capacity - offset);
                if (jumped > _tailCache)
                {
                    record = default;
                    return PaddingPastTail(pos, jumped);
                }

                _readPos = jumped;
                continue;
            }

            long next = pos + RecordSize((int)Math.Min(length, int.MaxValue));
            // The record must be a legal length and end within the published tail and within the data
            // area (a record never straddles the end: a hostile one would reach past the mapping).
            if (length > (uint)MaxRecordLength || next > _readLimit)
            {
                record = default;
                return BadRecord(pos, length, next);
            }

            record = new ReadOnlySpan<byte>(_data + offset + RecordHeaderSize, (int)length);
            _readPos = next;
            return ChannelStatus.Ok;
        }
    }

    /// <summary>Frees every record read so far for the writer, and wakes it if it waits for space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release()
    {
        long pos = _readPos;
        if (pos == _releasedPos || _channel.IsDisposed)
        {
            return;
        }

        _releasedPos = pos;
        // Release of our reads plus a full fence before loading the producer's futex word (StoreLoad).
        Interlocked.Exchange(ref *_head, pos);
        RingWaiter.WakeIfSleeping(_spaceFutex);
    }

    /// <summary>Copies the next record into <paramref name="destination"/> and releases it.</summary>
    /// <returns>Ok with the length; TooLarge (nothing consumed) if the destination is too small; else as <see cref="TryRead(out ReadOnlySpan{byte})"/>.</returns>
    public ChannelStatus TryRead(Span<byte> destination, out int length)
    {
        long before = _readPos;
        ChannelStatus status = TryRead(out ReadOnlySpan<byte> record);
        if (status != ChannelStatus.Ok)
        {
            length = 0;
            return status;
        }

        if (record.Length > destination.Length)
        {
            _readPos = before;
            length = record.Length;
            return ChannelStatus.TooLarge;
        }

        record.CopyTo(destination);
        length = record.Length;
        Release();
        return ChannelStatus.Ok;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for a record (<see cref="Timeout.InfiniteTimeSpan"/> for no limit).</summary>
    /// <returns>Ok when a record is there to read; else Closed, PeerGone, TimedOut, Cancelled.</returns>
    public ChannelStatus WaitToRead(TimeSpan timeout, CancellationToken ct = default)
    {
        // Counted as a wait from the first look at the file to the last, so Dispose on another
        // thread waits for it to leave before unmapping.
        if (!_channel.EnterWait())
        {
            return ChannelStatus.Closed;
        }

        try
        {
            if (HasRecord())
            {
                return ChannelStatus.Ok;
            }

            long ticks = timeout == Timeout.InfiniteTimeSpan ? -1 : (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            // Free what we hold before sleeping: the writer may be waiting for exactly that space.
            Release();
            ChannelStatus status = _waiter.Wait(new RecordAvailable(this), ticks, ct);
            return status == ChannelStatus.Ok || !HasRecord() ? status : ChannelStatus.Ok;
        }
        finally
        {
            _channel.ExitWait();
        }
    }

    /// <summary>Reads the next record, waiting up to <paramref name="timeout"/> for one.</summary>
    public ChannelStatus Read(out ReadOnlySpan<byte> record, TimeSpan timeout, CancellationToken ct = default)
    {
        while (true)
        {
            ChannelStatus status = TryRead(out record);
            if (status != ChannelStatus.Empty)
            {
                return status;
            }

            status = WaitToRead(timeout, ct);
            if (status != ChannelStatus.Ok)
            {
                return status;
            }
        }
    }

    /// <summary>Waits without blocking a thread until a record is there to read.</summary>
    /// <returns>Ok when a record is there; else Closed, PeerGone, Cancelled.</returns>
    public ValueTask<ChannelStatus> WaitToReadAsync(CancellationToken ct = default)
    {
        if (_channel.IsDisposed)
        {
            return new ValueTask<ChannelStatus>(ChannelStatus.Closed);
        }

        if (HasRecord())
        {
            return new ValueTask<ChannelStatus>(ChannelStatus.Ok);
        }

        Release();
        return _waiter.WaitAsync(new RecordAvailable(this), ct);
    }

    internal (ChannelStatus, byte[]?) TryReadCopy()
    {
        ChannelStatus status = TryRead(out ReadOnlySpan<byte> record);
        if (status != ChannelStatus.Ok)
        {
            return (status, null);
        }

        byte[] copy = record.ToArray();
        Release();
        return (ChannelStatus.Ok, copy);
    }

    /// <summary>
    /// Acquire-reads the tail and checks it: a multiple of 8, not behind what was read, and at most
    /// a capacity ahead of the head. False if nothing new was written since <paramref name="pos"/>;
    /// true on a violation too (recorded in <see cref="Corruption"/>), so that waits end and the
    /// next <see cref="TryRead(out ReadOnlySpan{byte})"/> reports it.
    /// </summary>
    // Not inlined: once per catch-up with the writer, and it keeps TryRead's inlined body small.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool RefreshTail(long pos)
    {
        if (_corruption is not null)
        {
            return true;
        }

        long tail = Volatile.Read(ref *_tail);
        if ((tail & (RecordAlignment - 1)) != 0 || (ulong)(tail - _releasedPos) > (ulong)_capacity || tail < pos)
        {
            BadTail(tail, pos);
            return true;
        }

        _tailCache = tail;
        return tail != pos;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BadTail(long tail, long pos)
    {
        string allowed = tail < pos
            ? $"at least the read position {pos}"
            : $"a multiple of {RecordAlignment} from the head {_releasedPos} to head + capacity {_releasedPos + _capacity}";
        MarkCorrupt($"tail (offset {TailOffset}) is {tail}, allowed {allowed}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ChannelStatus PaddingPastTail(long pos, long jumped)
    {
        MarkCorrupt($"padding record at position {pos} jumps to {jumped}, allowed at most the tail {_tailCache}");
        return ChannelStatus.Corrupt;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ChannelStatus BadRecord(long pos, uint length, long next)
    {
        long offset = pos & _mask;
        // _tailCache is the checked tail of this refresh (MarkCorrupt below resets it).
        string detail = length > (uint)MaxRecordLength
            ? $"record length at position {pos} is {length}, allowed 0 to {MaxRecordLength} or 0x{PaddingLength:X8} (padding)"
            : next > _tailCache
                ? $"record at position {pos} of length {length} ends at {next}, allowed at most the tail {_tailCache}"
                : $"record at position {pos} (data offset {offset}) of length {length} ends {offset + (next - pos)} bytes into the data area, allowed at most the capacity {_capacity} (a record never straddles the end)";
        MarkCorrupt(detail);
        return ChannelStatus.Corrupt;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ChannelStatus ReportCorrupt()
    {
        // Also for a violation found before the channel was complete (a bad head at open).
        _channel.MarkCorrupt(_corruption!);
        return ChannelStatus.Corrupt;
    }

    private void MarkCorrupt(string detail)
    {
        // From now on every read reaches the refresh path and reports Corrupt; nothing more is read.
        _tailCache = _readPos;
        _readLimit = _readPos;
        _corruption ??= $"{_name}: {detail}";
        _channel.MarkCorrupt(_corruption);
    }

    private bool HasRecord() => !_channel.IsDisposed && (_readPos != _tailCache || RefreshTail(_readPos));

    /// <summary>Called when the ring looks empty: Empty, Closed, or Ok if a record appeared meanwhile.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ChannelStatus EmptyOrClosed()
    {
        if (_channel.CheckOpen() == ChannelStatus.Ok)
        {
            return ChannelStatus.Empty;
        }

        if (_channel.Corruption is not null)
        {
            // Closed because this side found the other ring corrupt: say so, not just "closed".
            return ChannelStatus.Corrupt;
        }

        // The writer may have published and then closed between our two loads: look once more,
        // so everything written before the close is read before Closed is reported.
        return RefreshTail(_readPos) ? ChannelStatus.Ok : ChannelStatus.Closed;
    }

    internal void Wake() => _waiter.Wake();

    /// <summary>Work the reading thread does while it polls for records (<see cref="IReaderCompanion"/>); set before the first wait.</summary>
    internal IReaderCompanion? Companion
    {
        get => _waiter.Companion;
        set => _waiter.Companion = value;
    }

    internal void StopWorker() => _waiter.StopWorker();

    private readonly struct RecordAvailable(RingReader reader) : IWaitCondition
    {
        public bool IsSatisfied() => reader.HasRecord();
    }
}
