using Kaze.Protocol;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Routing;

/// <summary>
/// The pipeline's terminal step: sends each packet where its route says. A packet for this node
/// (dstIdent 0.0.0.0 or this ident, or a selector this ident matches) goes to the local host;
/// anything else that cannot be routed is answered with RET_UNREACHABLE at once if it is a
/// request, and dropped and counted if not. Never silence for a request.
/// </summary>
internal sealed class Router
{
    private readonly Ident _self;
    private readonly IPacketReplier _host;
    private readonly ILogger _logger;

    public Router(Ident self, IPacketReplier host, ILogger logger)
    {
        _self = self;
        _host = host;
        _logger = logger;
    }

    public RouterCounters Counters { get; } = new();

    public ValueTask RouteAsync(PacketContext context)
    {
        Hdr header = context.Header;
        bool local = header.RouteTypeCase switch
        {
            Hdr.RouteTypeOneofCase.DstIdent => header.DstIdent == 0 || header.DstIdent == _self.Value,
            Hdr.RouteTypeOneofCase.None => true,
            // One matching node: this one, if it matches (no other node is known yet).
            Hdr.RouteTypeOneofCase.DstRandom => _self.Matches(new Ident(header.DstRandom.Ident), header.DstRandom.Mask),
            // Every matching node but the sender.
            Hdr.RouteTypeOneofCase.DstBroadcast => context.Origin != PacketOrigin.Host && _self.Matches(new Ident(header.DstBroadcast.Ident), header.DstBroadcast.Mask),
            Hdr.RouteTypeOneofCase.DstMulticast => header.DstMulticast.DstIdents.Contains(_self.Value),
            _ => false,
        };

        if (local)
        {
            Packet packet = context.TakePacket();
            if (_host.TrySend(packet))
            {
                Interlocked.Increment(ref Counters.LocalDeliveries);
                context.Outcome = PacketOutcome.DeliveredToHost;
            }
            else
            {
                context.Outcome = PacketOutcome.Dropped;
            }

            return ValueTask.CompletedTask;
        }

        Unroutable(context);
        return ValueTask.CompletedTask;
    }

    private void Unroutable(PacketContext context)
    {
        if (context.TryRespond(RetCode.Unreachable, _self))
        {
            Interlocked.Increment(ref Counters.UnreachableAnswered);
            context.Outcome = PacketOutcome.Answered;
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                SidecarLog.Unreachable(_logger, DescribeRoute(context.Header), context.Header.BodyType);
            }
        }
        else
        {
            Interlocked.Increment(ref Counters.NotifiesDropped);
            context.Outcome = PacketOutcome.Dropped;
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                SidecarLog.NotifyDropped(_logger, DescribeRoute(context.Header), context.Header.BodyType);
            }
        }
    }

    internal static string DescribeRoute(Hdr header) => header.RouteTypeCase switch
    {
        Hdr.RouteTypeOneofCase.DstIdent => new Ident(header.DstIdent).ToString(),
        Hdr.RouteTypeOneofCase.DstRandom => $"random {new Ident(header.DstRandom.Ident)}/{new Ident(header.DstRandom.Mask)}",
        Hdr.RouteTypeOneofCase.DstBroadcast => $"broadcast {new Ident(header.DstBroadcast.Ident)}/{new Ident(header.DstBroadcast.Mask)}",
        Hdr.RouteTypeOneofCase.DstMulticast => "multicast " + string.Join(",", header.DstMulticast.DstIdents.Select(i => new Ident(i).ToString())),
        _ => "no route",
    };
}
