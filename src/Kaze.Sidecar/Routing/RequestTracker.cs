using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Routing;

/// <summary>
/// Middleware: every request this sidecar's host sends with a timeout is tracked by
/// (source ident, sequence); if no response reaches the host in time, the tracker answers it with
/// RET_TIMEOUT. Every response on its way to the host passes <see cref="TryComplete(Hdr, out IAnswerSink?)"/>; one that
/// arrives after the timeout is dropped and counted, so the host sees exactly one answer per request.
/// </summary>
/// <remarks>
/// Keyed by source and sequence, not sequence alone (upstream's flaw): a relay or a host that
/// restarted cannot make two requests collide. One timer serves every request: it is set for the
/// earliest deadline it knows of and, when it fires, answers what is due and sets itself for the
/// next, taking requests from a queue ordered by deadline, so it touches only what is due (not
/// every pending request: a flood of requests to a peer that never answers would make that a scan
/// of hundreds of thousands a millisecond). A request whose deadline is later than the timer's costs no timer operation, and a
/// sidecar with nothing due wakes no thread (a periodic scan woke the thread pool hundreds of
/// times a second, which on 2 cores took CPU from the packet path).
/// Call latency (kaze_call_duration_seconds) is measured here, from tracking the request to its
/// response being handed to the edge for the host (or the tracker's RET_TIMEOUT), tagged with the
/// response's ret code; requests without a timeout are not tracked, so not measured.
/// <para>
/// Parts of the sidecar (the HTTP gateway) make requests of their own as this node
/// (<see cref="TrackLocal"/>): they share the node's sequence space with the host's, so one table
/// decides where each response goes. Their sequences come from the upper half, skipping any in
/// flight; a host request whose sequence one of them holds is answered RET_RESOURCE_EXHAUSTED at
/// once (a host counting up from 1, as Kaze.Host does, never meets one).
/// </para>
/// </remarks>
internal sealed class RequestTracker : IAsyncDisposable
{
    // System.Threading.Timer's longest due time (0xFFFFFFFE ms); a later deadline is re-armed when it fires.
    private const double MaxTimerMilliseconds = 4294967294;

    private readonly Ident _self;
    private readonly Action<Packet> _sendToHost;
    private readonly RouterCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    // Pending requests → the deadline (TimeProvider timestamp) and the request's header, for the answer.
    // A plain dictionary under a lock: held for a lookup at a time, it costs less than a
    // ConcurrentDictionary (no node allocated per request) on a path every call takes twice.
    private readonly Lock _pendingLock = new();
    private readonly Dictionary<(uint Source, uint Sequence), Pending> _pending = [];
    // The same requests by deadline (then by when they were tracked), for the timer, so that it
    // touches only what is due, however many are pending. An answered request's entry stays until
    // it comes up (then it is skipped) or until the queue is rebuilt from _pending, which happens
    // when the queue holds far more than is pending. Guarded by _pendingLock, as is _tracked.
    private readonly PriorityQueue<(uint Source, uint Sequence), (long Deadline, long Order)> _byDeadline = new();
    private long _tracked;
    private readonly ITimer _timer;
    private readonly Histogram<double>? _callDuration;
    // Guards arming the timer; _timerDue is also read without it on the hot path.
    private readonly Lock _timerLock = new();
    // When the timer fires (TimeProvider timestamp); long.MaxValue while it is not set.
    private long _timerDue = long.MaxValue;
    // Set under _timerLock by DisposeAsync.
    private bool _disposed;
    // The next sequence TrackLocal tries; always in the upper half. Guarded by _pendingLock.
    private uint _nextLocal = FirstLocalSequence;

    /// <summary>The first sequence number of the upper half, where the sidecar's own requests are numbered.</summary>
    public const uint FirstLocalSequence = 0x8000_0000;

    public RequestTracker(Ident self, Action<Packet> sendToHost, RouterCounters counters, ILogger logger, TimeProvider? time = null, Histogram<double>? callDuration = null)
    {
        _callDuration = callDuration;
        _self = self;
        _sendToHost = sendToHost;
        _counters = counters;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _timer = _time.CreateTimer(static s => ((RequestTracker)s!).Expire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Requests waiting for their response.</summary>
    public int PendingCount
    {
        get
        {
            lock (_pendingLock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Entries in the queue of deadlines, answered requests' included (for tests).</summary>
    internal int DeadlinesQueued
    {
        get
        {
            lock (_pendingLock)
            {
                return _byDeadline.Count;
            }
        }
    }

    public ValueTask InvokeAsync(PacketContext context, PacketDelegate next)
    {
        Hdr header = context.Header;
        if (context.Origin == PacketOrigin.Host && header.ExpectsResponse && !Track(header, owner: null))
        {
            RefuseTaken(header);
            context.Outcome = PacketOutcome.Answered;
            return ValueTask.CompletedTask;
        }

        return next(context);
    }

    /// <summary>
    /// Tracks a request a part of the sidecar makes as this node (the HTTP gateway): gives it the
    /// next free sequence of the upper half and this node as its source; its answer goes to
    /// <paramref name="owner"/>, never to the host.
    /// </summary>
    public uint TrackLocal(Hdr request, IAnswerSink owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (request.Timeout == 0)
        {
            throw new ArgumentException("A tracked request needs a timeout above zero.", nameof(request));
        }

        request.SrcIdent = _self.Value;
        while (true)
        {
            uint sequence;
            lock (_pendingLock)
            {
                // At most as many tries as requests in flight: the half has 2^31 numbers.
                do
                {
                    sequence = _nextLocal;
                    _nextLocal = _nextLocal == uint.MaxValue ? FirstLocalSequence : _nextLocal + 1;
                }
                while (_pending.ContainsKey((_self.Value, sequence)));
            }

            request.Req = sequence;
            if (Track(request, owner))
            {
                return sequence;
            }
        }
    }

    /// <summary>Stops tracking a request of <see cref="TrackLocal"/>; a response that still comes is dropped as late.</summary>
    public void Forget(uint sequence)
    {
        lock (_pendingLock)
        {
            (uint, uint) key = (_self.Value, sequence);
            if (_pending.TryGetValue(key, out Pending pending) && pending.Owner is not null)
            {
                _pending.Remove(key);
            }
        }
    }

    /// <summary>Adds the request; false (nothing added) when its sequence is held by a request of another owner.</summary>
    private bool Track(Hdr header, IAnswerSink? owner)
    {
        long now = _time.GetTimestamp();
        long deadline = now + (long)(header.Timeout / 1000.0 * _time.TimestampFrequency);
        lock (_pendingLock)
        {
            (uint, uint) key = (_self.Value, header.Req);
            if (_pending.TryGetValue(key, out Pending held) && held.Owner != owner)
            {
                return false;
            }

            long order = _tracked++;
            _pending[key] = new Pending(deadline, header, now, order, owner);
            _byDeadline.Enqueue(key, (deadline, order));
            if (_byDeadline.Count > (2 * _pending.Count) + 1024)
            {
                RebuildByDeadline();
            }
        }

        if (deadline < Volatile.Read(ref _timerDue))
        {
            ArmIfEarlier(deadline);
        }

        return true;
    }

    /// <summary>A host request whose sequence the sidecar's own request holds: answered at once, never sent.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RefuseTaken(Hdr request)
    {
        Interlocked.Increment(ref _counters.ExhaustedAnswered);
        TrackerLog.SequenceTaken(_logger, request.Req);
        Hdr response = Hdr.CreateResponse(request, RetCode.ResourceExhausted);
        response.SrcIdent = _self.Value;
        _sendToHost(Packet.Create(response, ReadOnlySpan<byte>.Empty));
    }

    /// <summary>
    /// Called for every response on its way to the host, whoever made it (a peer, the host itself,
    /// the router's RET_UNREACHABLE): true if its request was pending, which ends the tracking;
    /// false for a late response, which the caller drops (counted here).
    /// </summary>
    public bool TryComplete(Hdr response) => TryComplete(response, out _);

    /// <summary>
    /// As <see cref="TryComplete(Hdr)"/>; <paramref name="owner"/> is the part of the sidecar the
    /// response is for (<see cref="TrackLocal"/>), or null when it is the host's.
    /// </summary>
    public bool TryComplete(Hdr response, out IAnswerSink? owner)
    {
        bool found;
        Pending pending;
        lock (_pendingLock)
        {
            found = _pending.Remove((_self.Value, response.Rsp), out pending);
        }

        if (found)
        {
            owner = pending.Owner;
            RecordCall(pending, response.RetCode);
            return true;
        }

        owner = null;

        Interlocked.Increment(ref _counters.LateResponses);
        TrackerLog.LateResponse(_logger, response.Rsp, new Ident(response.SrcIdent));
        return false;
    }

    /// <summary>
    /// Answers RET_UNREACHABLE every pending request sent to <paramref name="peer"/> (its route is
    /// dstIdent <paramref name="peer"/>; a name route is one once the router picked the member): the
    /// node left the mesh, so no answer will come. A scan of every pending request: discovery calls
    /// it when a node is removed, never per packet.
    /// </summary>
    /// <returns>How many were answered.</returns>
    public int FailPendingTo(Ident peer)
    {
        List<Pending>? failed = null;
        lock (_pendingLock)
        {
            foreach (KeyValuePair<(uint Source, uint Sequence), Pending> entry in _pending)
            {
                Hdr request = entry.Value.Request;
                if (request.RouteTypeCase == Hdr.RouteTypeOneofCase.DstIdent && request.DstIdent == peer.Value)
                {
                    (failed ??= []).Add(entry.Value);
                }
            }

            foreach (Pending pending in failed ?? [])
            {
                // Its entry in _byDeadline is skipped when it comes up.
                _pending.Remove((_self.Value, pending.Request.Req));
            }
        }

        foreach (Pending pending in failed ?? [])
        {
            Interlocked.Increment(ref _counters.UnreachableAnswered);
            RecordCall(pending, (uint)RetCode.Unreachable);
            Hdr response = Hdr.CreateResponse(pending.Request, RetCode.Unreachable);
            response.SrcIdent = _self.Value;
            Packet answer = Packet.Create(response, ReadOnlySpan<byte>.Empty);
            if (pending.Owner is { } owner)
            {
                owner.Answer(answer);
            }
            else
            {
                _sendToHost(answer);
            }
        }

        return failed?.Count ?? 0;
    }

    public ValueTask DisposeAsync()
    {
        lock (_timerLock)
        {
            // Packets still passing while the sidecar stops must not re-arm a disposed timer.
            _disposed = true;
        }

        return _timer.DisposeAsync();
    }

    private void ArmIfEarlier(long deadline)
    {
        lock (_timerLock)
        {
            if (deadline >= _timerDue || _disposed)
            {
                return;
            }

            _timerDue = deadline;
            long ticks = Math.Max(0, deadline - _time.GetTimestamp());
            // Rounded up to whole milliseconds, so the timer does not fire just before the deadline.
            double ms = Math.Ceiling(ticks * 1000.0 / _time.TimestampFrequency);
            _timer.Change(TimeSpan.FromMilliseconds(Math.Min(ms, MaxTimerMilliseconds)), Timeout.InfiniteTimeSpan);
        }
    }

    private void Expire()
    {
        // Not set any more: a request tracked from here on arms the timer itself, so none is missed
        // while this scan runs.
        lock (_timerLock)
        {
            _timerDue = long.MaxValue;
        }

        long now = _time.GetTimestamp();
        long next = long.MaxValue;
        List<Pending>? due = null;
        lock (_pendingLock)
        {
            while (_byDeadline.TryPeek(out (uint Source, uint Sequence) key, out (long Deadline, long Order) when))
            {
                if (!_pending.TryGetValue(key, out Pending pending) || pending.Order != when.Order)
                {
                    // Answered already, or tracked again since under the same sequence number.
                    _byDeadline.Dequeue();
                    continue;
                }

                if (pending.Deadline > now)
                {
                    next = pending.Deadline;
                    break;
                }

                _byDeadline.Dequeue();
                _pending.Remove(key);
                (due ??= []).Add(pending);
            }
        }

        // Answered outside the lock: the answer goes through the edge.
        foreach (Pending pending in due ?? [])
        {
            Interlocked.Increment(ref _counters.TimeoutsAnswered);
            RecordCall(pending, (uint)RetCode.Timeout);
            Hdr response = Hdr.CreateResponse(pending.Request, RetCode.Timeout);
            response.SrcIdent = _self.Value;
            Packet answer = Packet.Create(response, ReadOnlySpan<byte>.Empty);
            if (pending.Owner is { } owner)
            {
                owner.Answer(answer);
            }
            else
            {
                _sendToHost(answer);
            }
        }

        if (next != long.MaxValue)
        {
            ArmIfEarlier(next);
        }
    }

    private void RecordCall(in Pending pending, uint retCode)
    {
        Histogram<double>? histogram = _callDuration;
        if (histogram is null || !histogram.Enabled)
        {
            return;
        }

        double seconds = (_time.GetTimestamp() - pending.Started) / (double)_time.TimestampFrequency;
        histogram.Record(seconds, new KeyValuePair<string, object?>("code", CodeLabel(retCode)));
    }

    /// <summary>The metric label of a ret code: a fixed set, so unknown codes cannot grow the series.</summary>
    internal static string CodeLabel(uint retCode) => (RetCode)retCode switch
    {
        RetCode.Ok => "ok",
        RetCode.Unreachable => "unreachable",
        RetCode.Timeout => "timeout",
        RetCode.ResourceExhausted => "resource_exhausted",
        RetCode.NoHandler => "no_handler",
        RetCode.HandlerFailed => "handler_failed",
        _ => "other",
    };

    /// <summary>The deadline queue again from what is pending: drops the entries of answered requests. Under _pendingLock.</summary>
    private void RebuildByDeadline()
    {
        _byDeadline.Clear();
        foreach (KeyValuePair<(uint Source, uint Sequence), Pending> entry in _pending)
        {
            _byDeadline.Enqueue(entry.Key, (entry.Value.Deadline, entry.Value.Order));
        }
    }

    // Started: when the request was tracked (TimeProvider timestamp), for the call's latency.
    // Order: its place among the requests tracked, to tell its entry in _byDeadline from a stale one.
    // Owner: where the answer goes when a part of the sidecar made the request; null for the host.
    private readonly record struct Pending(long Deadline, Hdr Request, long Started, long Order, IAnswerSink? Owner);
}

internal static partial class TrackerLog
{
    [LoggerMessage(EventId = 210, Level = LogLevel.Debug, Message = "Dropped a late response to request {Sequence} from {Source}")]
    public static partial void LateResponse(ILogger logger, uint sequence, Ident source);

    [LoggerMessage(EventId = 211, Level = LogLevel.Debug, Message = "The host's request {Sequence} uses a sequence number the sidecar's own request holds; answered RESOURCE_EXHAUSTED")]
    public static partial void SequenceTaken(ILogger logger, uint sequence);
}
