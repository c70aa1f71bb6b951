using Kaze.Core;

namespace Kaze.Host.Testing;

/// <summary>
/// The in-memory stand-in for the sidecar → host ring: an unbounded queue of records with a
/// blocking wait, and an end (Closed or PeerGone) reported after the records sent before it.
/// </summary>
internal sealed class RecordQueue
{
    // A monitor, not a Lock: readers wait on it with Monitor.Wait.
    private readonly object _gate = new();
    private readonly Queue<byte[]> _records = new();
    // Ok while open; then Closed or PeerGone, reported once the queue is drained.
    private ChannelStatus _end = ChannelStatus.Ok;

    public bool TryEnqueue(byte[] record)
    {
        lock (_gate)
        {
            if (_end != ChannelStatus.Ok)
            {
                return false;
            }

            _records.Enqueue(record);
            Monitor.PulseAll(_gate);
            return true;
        }
    }

    public ChannelStatus TryDequeue(out byte[]? record)
    {
        lock (_gate)
        {
            if (_records.TryDequeue(out record))
            {
                return ChannelStatus.Ok;
            }

            return _end == ChannelStatus.Ok ? ChannelStatus.Empty : _end;
        }
    }

    public ChannelStatus WaitToRead(TimeSpan timeout)
    {
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (_records.Count == 0 && _end == ChannelStatus.Ok)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    return ChannelStatus.TimedOut;
                }

                Monitor.Wait(_gate, deadline == long.MaxValue ? Timeout.Infinite : (int)Math.Min(left, int.MaxValue));
            }

            return _records.Count > 0 ? ChannelStatus.Ok : _end;
        }
    }

    public void End(ChannelStatus status)
    {
        lock (_gate)
        {
            if (_end == ChannelStatus.Ok)
            {
                _end = status;
            }

            Monitor.PulseAll(_gate);
        }
    }
}
