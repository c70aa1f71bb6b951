using System.Diagnostics.Metrics;
using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.RateLimiting;

/// <summary>
/// The rate-limit step of the pipeline. Limits what enters this sidecar — from the local host and
/// from the network — and never a response (a response answers a request that was already let
/// through; refusing it would only turn into a timeout) nor what the sidecar makes itself.
/// </summary>
/// <remarks>
/// A packet that passes at once goes on synchronously with no allocation. A refused request is
/// answered RET_RESOURCE_EXHAUSTED towards where it came from; a refused notify is dropped.
/// Either way it is counted under the rule that refused it (<see cref="RateLimitCounters"/>, and
/// kaze_rate_limited_total{rule, reason} when the metrics plugin is there) and logged at debug. A packet held
/// in wait mode awaits on the limiter's clock and holds up only itself.
/// </remarks>
internal sealed class RateLimitMiddleware : IPacketMiddleware
{
    private readonly PacketRateLimiter _limiter;
    private readonly Ident _self;
    private readonly ILogger _logger;
    // Metrics.KazeMeter.RateLimited; null without the metrics plugin.
    private readonly Counter<long>? _refused;
    // The sidecar is stopping: packets still held are dropped rather than routed into a closing node.
    private readonly CancellationToken _stopping;

    public RateLimitMiddleware(PacketRateLimiter limiter, Ident self, ILogger logger, Counter<long>? refused = null, CancellationToken stopping = default)
    {
        _limiter = limiter;
        _self = self;
        _logger = logger;
        _refused = refused;
        _stopping = stopping;
    }

    public ValueTask InvokeAsync(PacketContext context, PacketDelegate next)
    {
        Hdr header = context.Header;
        if (context.Origin == PacketOrigin.Sidecar || header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp)
        {
            return next(context);
        }

        RateLimitDecision decision = _limiter.Check(header, _limiter.Time.GetTimestamp());
        if (decision.RefusedBy is not null)
        {
            Refuse(context, decision.RefusedBy);
            return ValueTask.CompletedTask;
        }

        return decision.Delay == 0 ? next(context) : WaitAsync(context, next, decision);
    }

    private async ValueTask WaitAsync(PacketContext context, PacketDelegate next, RateLimitDecision decision)
    {
        Interlocked.Increment(ref decision.DelayedBy!.Counters.DelayedCount);
        TimeSpan delay = _limiter.Time.GetElapsedTime(0, decision.Delay);
        RateLimitLog.Delayed(_logger, decision.DelayedBy.Rule.Name, context.Header.BodyType, new Ident(context.Header.SrcIdent), delay.TotalMilliseconds);
        try
        {
            await Task.Delay(delay, _limiter.Time, _stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            context.Outcome = PacketOutcome.Dropped;
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    private void Refuse(PacketContext context, RuleLimit rule)
    {
        Hdr header = context.Header;
        if (header.ExpectsResponse)
        {
            Interlocked.Increment(ref rule.Counters.AnsweredCount);
            _refused?.Add(1, new KeyValuePair<string, object?>("rule", rule.Rule.Name), new KeyValuePair<string, object?>("reason", "answered"));
            context.TryRespond(RetCode.ResourceExhausted, _self);
            context.Outcome = PacketOutcome.Answered;
            RateLimitLog.Answered(_logger, rule.Rule.Name, header.BodyType, new Ident(header.SrcIdent), context.Origin);
        }
        else
        {
            Interlocked.Increment(ref rule.Counters.DroppedCount);
            _refused?.Add(1, new KeyValuePair<string, object?>("rule", rule.Rule.Name), new KeyValuePair<string, object?>("reason", "dropped"));
            context.Outcome = PacketOutcome.Dropped;
            RateLimitLog.Dropped(_logger, rule.Rule.Name, header.BodyType, new Ident(header.SrcIdent), context.Origin);
        }
    }
}
