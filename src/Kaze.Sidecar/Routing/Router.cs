using System.Runtime.CompilerServices;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Service;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Routing;

/// <summary>
/// The pipeline's terminal step: sends each packet where its route says — to the local host, to
/// other sidecars, or back to the sender as RET_UNREACHABLE. Never silence for a request: a
/// request that cannot be routed is answered at once; a notify is dropped and counted.
/// </summary>
/// <remarks>
/// Fan-out happens once, at the sidecar where the packet enters from its host: a random,
/// broadcast or multicast packet that arrives from the network is only delivered to this
/// sidecar's host (if this node is selected), never sent on, so nothing loops. A dstIdent packet
/// for another node is relayed: the corral connects to that node directly, by ident.
/// </remarks>
internal sealed class Router
{
    private readonly Ident _self;
    private readonly IPacketReplier? _host;
    private readonly IResolver _resolver;
    private readonly IMeshLink? _mesh;
    private readonly ILogger _logger;

    // The copies of a fan-out request (broadcast, multicast) still out, by each copy's header: a
    // copy the corral gives back undeliverable answers the request only if it was the last one out.
    // Weak: an entry lives as long as its copy, so a fan-out that was answered leaves nothing behind.
    private readonly ConditionalWeakTable<Hdr, FanOutGroup> _fanOuts = new();

    public Router(Ident self, IPacketReplier? host, IResolver resolver, IMeshLink? mesh, ILogger logger)
    {
        _self = self;
        _host = host;
        _resolver = resolver;
        _mesh = mesh;
        _logger = logger;
    }

    public RouterCounters Counters { get; } = new();

    public ValueTask RouteAsync(PacketContext context)
    {
        Hdr header = context.Header;
        switch (header.RouteTypeCase)
        {
            case Hdr.RouteTypeOneofCase.None:
            case Hdr.RouteTypeOneofCase.DstIdent:
                uint dst = header.DstIdent;
                if (dst == 0 || dst == _self.Value)
                {
                    DeliverLocal(context);
                }
                else
                {
                    Forward(context, new Ident(dst));
                }

                return ValueTask.CompletedTask;

            case Hdr.RouteTypeOneofCase.DstRandom:
                return context.Origin == PacketOrigin.Network
                    ? LocalIfSelected(context, header.DstRandom)
                    : RouteRandomAsync(context, header.DstRandom);

            case Hdr.RouteTypeOneofCase.DstBroadcast:
                return context.Origin == PacketOrigin.Network
                    ? LocalIfSelected(context, header.DstBroadcast)
                    : RouteBroadcastAsync(context, header.DstBroadcast);

            case Hdr.RouteTypeOneofCase.DstMulticast:
                RouteMulticast(context, header.DstMulticast.DstIdents);
                return ValueTask.CompletedTask;

            default:
                Unroutable(context, RetCode.Unreachable, "unknown route");
                return ValueTask.CompletedTask;
        }
    }

    /// <summary>Routes a packet the sidecar made itself (an error response): to the local host or to the node it is for.</summary>
    public void SendFromSidecar(Packet packet)
    {
        uint dst = packet.Header.DstIdent;
        if (dst == 0 || dst == _self.Value)
        {
            if (_host is null || !_host.TrySend(packet))
            {
                Interlocked.Increment(ref Counters.NotifiesDropped);
            }

            return;
        }

        if (_mesh is null || !_mesh.TrySend(new Ident(dst), packet, out _))
        {
            Interlocked.Increment(ref Counters.NotifiesDropped);
            packet.Dispose();
        }
    }

    /// <summary>
    /// A packet the corral could not deliver: answer it if it is a request — unless it is one copy
    /// of a fan-out request and other copies are still out (or its sender's host has it): their
    /// answers decide the call, or the tracker's timeout does.
    /// </summary>
    public void Undeliverable(Packet packet, string reason)
    {
        try
        {
            Hdr header = packet.Header;
            bool fanOutCopy = header.RouteTypeCase is Hdr.RouteTypeOneofCase.DstBroadcast or Hdr.RouteTypeOneofCase.DstMulticast;
            if (fanOutCopy && !(_fanOuts.TryGetValue(header, out FanOutGroup? group) && group.LastOut()))
            {
                Interlocked.Increment(ref Counters.NotifiesDropped);
            }
            else if (header.ExpectsResponse)
            {
                Interlocked.Increment(ref Counters.UnreachableAnswered);
                Hdr response = Hdr.CreateResponse(header, RetCode.Unreachable);
                response.SrcIdent = _self.Value;
                SendFromSidecar(Packet.Create(response, ReadOnlySpan<byte>.Empty));
                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    SidecarLog.Unreachable(_logger, DescribeRoute(header) + " (" + reason + ")", header.BodyType);
                }
            }
            else
            {
                Interlocked.Increment(ref Counters.NotifiesDropped);
            }
        }
        finally
        {
            packet.Dispose();
        }
    }

    private void DeliverLocal(PacketContext context)
    {
        if (_host is null)
        {
            // A relay node has no host: nothing here can take the packet.
            Unroutable(context, RetCode.Unreachable, "this sidecar has no host");
            return;
        }

        if (_host.TrySend(context.TakePacket()))
        {
            Interlocked.Increment(ref Counters.LocalDeliveries);
            context.Outcome = PacketOutcome.DeliveredToHost;
        }
        else
        {
            Interlocked.Increment(ref Counters.NotifiesDropped);
            context.Outcome = PacketOutcome.Dropped;
        }
    }

    private void Forward(PacketContext context, Ident peer)
    {
        if (_mesh is null)
        {
            Unroutable(context, RetCode.Unreachable, "no mesh");
            return;
        }

        if (_mesh.TrySend(peer, context.Packet, out bool queueFull))
        {
            context.TakePacket();
            Interlocked.Increment(ref Counters.Forwarded);
            context.Outcome = PacketOutcome.Forwarded;
            return;
        }

        Unroutable(context, queueFull ? RetCode.ResourceExhausted : RetCode.Unreachable, queueFull ? "peer queue full" : "peer unreachable");
    }

    private ValueTask LocalIfSelected(PacketContext context, Hdr.Types.DstMask selector)
    {
        if (_self.Matches(new Ident(selector.Ident), selector.Mask))
        {
            DeliverLocal(context);
        }
        else
        {
            Unroutable(context, RetCode.Unreachable, "not selected");
        }

        return ValueTask.CompletedTask;
    }

    private async ValueTask RouteRandomAsync(PacketContext context, Hdr.Types.DstMask selector)
    {
        IReadOnlyList<Ident> nodes = await _resolver.MatchAsync(new Ident(selector.Ident), selector.Mask).ConfigureAwait(false);
        bool selfMatches = _self.Matches(new Ident(selector.Ident), selector.Mask) && _host is not null;
        int count = nodes.Count + (selfMatches ? 1 : 0);
        if (count == 0)
        {
            Unroutable(context, RetCode.Unreachable, "no node matches");
            return;
        }

        int pick = Random.Shared.Next(count);
        if (pick == nodes.Count)
        {
            DeliverLocal(context);
        }
        else if (nodes[pick] == _self)
        {
            DeliverLocal(context);
        }
        else
        {
            Forward(context, nodes[pick]);
        }
    }

    private async ValueTask RouteBroadcastAsync(PacketContext context, Hdr.Types.DstMask selector)
    {
        IReadOnlyList<Ident> nodes = await _resolver.MatchAsync(new Ident(selector.Ident), selector.Mask).ConfigureAwait(false);
        // Every matching node once, never back to the sender (this node's host sent it).
        var targets = new List<Ident>(nodes.Count);
        foreach (Ident node in nodes)
        {
            if (node != _self && !targets.Contains(node))
            {
                targets.Add(node);
            }
        }

        FanOut(context, targets, includeLocal: false);
    }

    private void RouteMulticast(PacketContext context, IList<uint> idents)
    {
        // Listed: this node's host gets it, whichever side the packet came from; other members
        // are sent to only from the sidecar where the packet entered.
        bool local = false;
        var targets = new List<Ident>(idents.Count);
        foreach (uint value in idents)
        {
            var node = new Ident(value);
            if (value == 0 || node == _self)
            {
                local = true;
            }
            else if (context.Origin != PacketOrigin.Network && !targets.Contains(node))
            {
                targets.Add(node);
            }
        }

        FanOut(context, targets, local);
    }

    private void FanOut(PacketContext context, List<Ident> targets, bool includeLocal)
    {
        if (targets.Count == 0 && !includeLocal)
        {
            Unroutable(context, RetCode.Unreachable, "no node matches");
            return;
        }

        Hdr header = context.Header;
        // A request answered by the members only: UNREACHABLE once every copy failed, now or later.
        FanOutGroup? group = header.ExpectsResponse && !includeLocal ? new FanOutGroup(targets.Count) : null;
        int sent = 0;
        bool allFailed = false;
        foreach (Ident target in targets)
        {
            Packet copy = Packet.Create(header.Clone(), context.Packet.BodySpan);
            if (group is not null)
            {
                _fanOuts.AddOrUpdate(copy.Header, group);
            }

            if (_mesh is not null && _mesh.TrySend(target, copy, out _))
            {
                sent++;
            }
            else
            {
                // One unreachable member does not fail the others; a request gets its answer from
                // the members that answer, or times out in the tracker.
                copy.Dispose();
                Interlocked.Increment(ref Counters.NotifiesDropped);
                allFailed |= group?.LastOut() ?? false;
            }
        }

        Interlocked.Add(ref Counters.Forwarded, sent);
        context.Outcome = sent > 0 ? PacketOutcome.Forwarded : PacketOutcome.Dropped;
        if (includeLocal)
        {
            DeliverLocal(context);
        }
        else if (sent == 0 || allFailed)
        {
            Unroutable(context, RetCode.Unreachable, "no matching node reachable");
        }
    }

    private void Unroutable(PacketContext context, RetCode code, string reason)
    {
        if (context.TryRespond(code, _self))
        {
            Interlocked.Increment(ref code == RetCode.ResourceExhausted ? ref Counters.ExhaustedAnswered : ref Counters.UnreachableAnswered);
            context.Outcome = PacketOutcome.Answered;
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                SidecarLog.Unreachable(_logger, DescribeRoute(context.Header) + " (" + reason + ")", context.Header.BodyType);
            }
        }
        else
        {
            Interlocked.Increment(ref Counters.NotifiesDropped);
            context.Outcome = PacketOutcome.Dropped;
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                SidecarLog.NotifyDropped(_logger, DescribeRoute(context.Header) + " (" + reason + ")", context.Header.BodyType);
            }
        }
    }

    /// <summary>The copies of one fan-out request not yet known to have failed.</summary>
    private sealed class FanOutGroup(int copies)
    {
        private int _out = copies;

        /// <summary>Counts one copy as failed; true for the last one out (once per group).</summary>
        public bool LastOut() => Interlocked.Decrement(ref _out) == 0;
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
