using System.Collections.Concurrent;
using Kaze.Protocol;

namespace Kaze.Host.Calls;

/// <summary>
/// The calls waiting for a response, by sequence number, and their timeouts. One timer serves
/// every call: it is set for the earliest deadline it knows; when it fires it times out what is
/// due and sets itself for the next. Completed calls leave nothing behind, so the table holds
/// exactly the calls in flight.
/// </summary>
internal sealed class PendingCallTable : IDisposable
{
    private const int MaxPooled = 1024;

    // Guards _calls, _timerDue and _closed.
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, PendingCall> _calls = [];
    private readonly ConcurrentQueue<PendingCall> _pool = new();
    private readonly Timer _timer;
    // When the timer is set to fire (TickCount64 ms); long.MaxValue when it is not set.
    private long _timerDue = long.MaxValue;
    // The channel ended: no call can be answered any more.
    private bool _closed;
    // Whether calls run their continuations on the completing thread (KazeClientOptions.CompleteCallsInline).
    private readonly bool _inline;

    public PendingCallTable(bool runContinuationsInline = false)
    {
        _inline = runContinuationsInline;
        _timer = new Timer(static s => ((PendingCallTable)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _calls.Count;
            }
        }
    }

    public PendingCall Rent() => _pool.TryDequeue(out PendingCall? call) ? call : new PendingCall(this, _inline);

    public void Return(PendingCall call)
    {
        if (_pool.Count < MaxPooled)
        {
            _pool.Enqueue(call);
        }
    }

    /// <summary>Adds the call; false if its sequence is taken (after a wrap) or the channel ended.</summary>
    public bool TryAdd(PendingCall call, out bool closed)
    {
        lock (_lock)
        {
            closed = _closed;
            if (closed || !_calls.TryAdd(call.Sequence, call))
            {
                return false;
            }

            if (call.Deadline < _timerDue)
            {
                ArmLocked(call.Deadline);
            }

            return true;
        }
    }

    /// <summary>Removes and returns the call answered by <paramref name="sequence"/>; null if none waits (late or unknown).</summary>
    public PendingCall? TryRemove(uint sequence)
    {
        lock (_lock)
        {
            return _calls.Remove(sequence, out PendingCall? call) ? call : null;
        }
    }

    /// <summary>Removes this very call; false if someone else already did (and so completes it).</summary>
    public bool Remove(PendingCall call)
    {
        lock (_lock)
        {
            if (_calls.TryGetValue(call.Sequence, out PendingCall? found) && ReferenceEquals(found, call))
            {
                _calls.Remove(call.Sequence);
                return true;
            }

            return false;
        }
    }

    /// <summary>Refuses new calls and completes every waiting one with <paramref name="code"/> at once.</summary>
    public void Close(RetCode code)
    {
        List<PendingCall> failed;
        lock (_lock)
        {
            if (_closed)
            {
                // Closed by both the end of the channel and Dispose; the timer may be disposed already.
                return;
            }

            _closed = true;
            failed = [.. _calls.Values];
            _calls.Clear();
            _timerDue = long.MaxValue;
            _timer.Change(Timeout.Infinite, Timeout.Infinite);
        }

        KazeResponse response = KazeResponse.Local(code);
        foreach (PendingCall call in failed)
        {
            call.Complete(response);
        }
    }

    public void Dispose()
    {
        Close(RetCode.Unreachable);
        _timer.Dispose();
    }

    // Caller holds _lock.
    private void ArmLocked(long due)
    {
        _timerDue = due;
        long delay = Math.Max(0, due - Environment.TickCount64);
        _timer.Change(delay, Timeout.Infinite);
    }

    private void OnTimer()
    {
        // Allocated only when something times out. Not a shared field: a call added meanwhile may
        // re-arm the timer, so two callbacks can overlap.
        List<PendingCall>? due = null;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            long now = Environment.TickCount64;
            long next = long.MaxValue;
            foreach (PendingCall call in _calls.Values)
            {
                if (call.Deadline <= now)
                {
                    (due ??= []).Add(call);
                }
                else if (call.Deadline < next)
                {
                    next = call.Deadline;
                }
            }

            if (due is not null)
            {
                foreach (PendingCall call in due)
                {
                    _calls.Remove(call.Sequence);
                }
            }

            _timerDue = long.MaxValue;
            if (next != long.MaxValue)
            {
                ArmLocked(next);
            }
        }

        if (due is null)
        {
            return;
        }

        // Completed outside the lock: with inline completion the continuations run right here, on the timer's thread.
        KazeResponse timedOut = KazeResponse.Local(RetCode.Timeout);
        foreach (PendingCall call in due)
        {
            call.Complete(timedOut);
        }
    }
}
