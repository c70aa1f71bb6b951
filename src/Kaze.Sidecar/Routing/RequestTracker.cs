using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Routing;

/// <summary>
/// Middleware: every request this sidecar's host sends with a timeout is tracked by
/// (source ident, sequence); if no response reaches the host in time, the tracker answers it with
/// RET_TIMEOUT. Every response on its way to the host passes <see cref="TryComplete"/>; one that
/// arrives after the timeout is dropped and counted, so the host sees exactly one answer per request.
/// </summary>
/// <remarks>
/// Keyed by source and sequence, not sequence alone (upstream's flaw): a relay or a host that
/// restarted cannot make two requests collide. Expiry is checked by one timer every
/// <see cref="ScanInterval"/>, so a timeout fires at most that much late.
/// Call latency (kaze_call_duration_seconds) is measured here, from tracking the request to its
/// response being handed to the edge for the host (or the tracker's RET_TIMEOUT), tagged with the
/// response's ret code; requests without a timeout are not tracked, so not measured.
/// </remarks>
internal sealed class RequestTracker : IAsyncDisposable
{
    public static readonly TimeSpan ScanInterval = TimeSpan.FromMilliseconds(5);

    private readonly Ident _self;
    private readonly Action<Packet> _sendToHost;
    private readonly RouterCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    // Pending requests → the deadline (TimeProvider timestamp) and the request's header, for the answer.
    private readonly ConcurrentDictionary<(uint Source, uint Sequence), Pending> _pending = new();
    private readonly ITimer _timer;
    private readonly Histogram<double>? _callDuration;

    public RequestTracker(Ident self, Action<Packet> sendToHost, RouterCounters counters, ILogger logger, TimeProvider? time = null, Histogram<double>? callDuration = null)
    {
        _callDuration = callDuration;
        _self = self;
        _sendToHost = sendToHost;
        _counters = counters;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _timer = _time.CreateTimer(static s => ((RequestTracker)s!).Expire(), this, ScanInterval, ScanInterval);
    }

    /// <summary>Requests waiting for their response.</summary>
    public int PendingCount => _pending.Count;

    public ValueTask InvokeAsync(PacketContext context, PacketDelegate next)
    {
        Hdr header = context.Header;
        if (context.Origin == PacketOrigin.Host && header.ExpectsResponse)
        {
            long now = _time.GetTimestamp();
            long deadline = now + (long)(header.Timeout / 1000.0 * _time.TimestampFrequency);
            _pending[(_self.Value, header.Req)] = new Pending(deadline, header, now);
        }

        return next(context);
    }

    /// <summary>
    /// Called for every response on its way to the host, whoever made it (a peer, the host itself,
    /// the router's RET_UNREACHABLE): true if its request was pending, which ends the tracking;
    /// false for a late response, which the caller drops (counted here).
    /// </summary>
    public bool TryComplete(Hdr response)
    {
        if (_pending.TryRemove((_self.Value, response.Rsp), out Pending pending))
        {
            RecordCall(pending, response.RetCode);
            return true;
        }

        Interlocked.Increment(ref _counters.LateResponses);
        TrackerLog.LateResponse(_logger, response.Rsp, new Ident(response.SrcIdent));
        return false;
    }

    public ValueTask DisposeAsync() => _timer.DisposeAsync();

    private void Expire()
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        long now = _time.GetTimestamp();
        foreach (KeyValuePair<(uint Source, uint Sequence), Pending> entry in _pending)
        {
            if (entry.Value.Deadline <= now && _pending.TryRemove(entry))
            {
                Interlocked.Increment(ref _counters.TimeoutsAnswered);
                RecordCall(entry.Value, (uint)RetCode.Timeout);
                Hdr response = Hdr.CreateResponse(entry.Value.Request, RetCode.Timeout);
                response.SrcIdent = _self.Value;
                _sendToHost(Packet.Create(response, ReadOnlySpan<byte>.Empty));
            }
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

    // Started: when the request was tracked (TimeProvider timestamp), for the call's latency.
    private readonly record struct Pending(long Deadline, Hdr Request, long Started);
}

internal static partial class TrackerLog
{
    [LoggerMessage(EventId = 210, Level = LogLevel.Debug, Message = "Dropped a late response to request {Sequence} from {Source}")]
    public static partial void LateResponse(ILogger logger, uint sequence, Ident source);
}
