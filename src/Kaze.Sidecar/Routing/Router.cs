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

    // Requests sent to one member of a name or selector, by header (the header now names the member
    // picked): what they were sent to, so one whose member fails before anything was sent goes to
    // another. Weak, as _fanOuts.
    private readonly ConditionalWeakTable<Hdr, Picked> _picked = new();

    // The service names (null: a resolver that knows none) and this node's own names.
    private readonly INameResolver? _names;
    private readonly IReadOnlyList<string> _ownNames;

    // Round robin over the members of a name; Interlocked.
    private uint _nextMember;

    // A request is sent again to another member at most this many times.
    private const int MaxRetries = 8;

    public Router(Ident self, IPacketReplier? host, IResolver resolver, IMeshLink? mesh, ILogger logger, IReadOnlyList<string>? ownNames = null)
    {
        _self = self;
        _host = host;
        _resolver = resolver;
        _mesh = mesh;
        _logger = logger;
        _names = resolver as INameResolver;
        _ownNames = ownNames ?? [];
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

            case Hdr.RouteTypeOneofCase.DstName:
                RouteName(context, header.DstName);
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
        bool owned = true;
        try
        {
            Hdr header = packet.Header;
            bool isCopy = _fanOuts.TryGetValue(header, out FanOutGroup? group);
            bool fanOutCopy = isCopy || header.RouteTypeCase is Hdr.RouteTypeOneofCase.DstBroadcast or Hdr.RouteTypeOneofCase.DstMulticast;
            if (fanOutCopy && !(group is not null && group.LastOut()))
            {
                Interlocked.Increment(ref Counters.NotifiesDropped);
            }
            else if (header.ExpectsResponse && !fanOutCopy && NeverSent(reason) && _picked.TryGetValue(header, out Picked? picked) && TrySendToAnother(packet, picked))
            {
                owned = false;
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
            if (owned)
            {
                packet.Dispose();
            }
        }
    }

    /// <summary>
    /// Whether the corral gave the packet back without having written any of it: its dial failed
    /// (PeerSession.DialFailed: "IDENT is unreachable: …") or the node left the mesh
    /// (EtcdDiscovery: "IDENT left the mesh …"). Only such a request may go to another member: one
    /// lost while being written may have arrived.
    /// </summary>
    private static bool NeverSent(string reason) =>
        reason.Contains(" is unreachable: ", StringComparison.Ordinal) || reason.Contains(" left the mesh", StringComparison.Ordinal);

    /// <summary>A request whose member failed before anything was sent: to another member it can reach (never the one that failed), or false.</summary>
    private bool TrySendToAnother(Packet packet, Picked picked)
    {
        Hdr header = packet.Header;
        if (Interlocked.Increment(ref picked.Retries) > MaxRetries || _mesh is null)
        {
            return false;
        }

        var failed = new Ident(header.DstIdent);
        IReadOnlyList<Ident> members;
        bool selfMember;
        if (picked.Name is { } name)
        {
            members = _names?.ResolveName(name) ?? [];
            selfMember = _host is not null && HasOwnName(name);
        }
        else
        {
            ValueTask<IReadOnlyList<Ident>> match = _resolver.MatchAsync(new Ident(picked.Ident), picked.Mask);
            if (!match.IsCompletedSuccessfully)
            {
                // Not answered from memory: not waited for here (this runs on the corral's thread).
                _ = match.AsTask().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
                return false;
            }

            members = match.Result;
            selfMember = _host is not null && _self.Matches(new Ident(picked.Ident), picked.Mask);
        }

        int count = members.Count;
        uint start = Interlocked.Increment(ref _nextMember);
        for (int i = 0; i < count; i++)
        {
            Ident candidate = members[(int)((start + (uint)i) % (uint)count)];
            if (candidate == failed || candidate == _self || !_mesh.IsAvailable(candidate))
            {
                continue;
            }

            header.DstIdent = candidate.Value;
            if (_mesh.TrySend(candidate, packet, out _))
            {
                Interlocked.Increment(ref Counters.Retried);
                return true;
            }
        }

        if (selfMember && _host is not null)
        {
            Interlocked.Increment(ref Counters.Retried);
            if (_host.TrySend(packet))
            {
                Interlocked.Increment(ref Counters.LocalDeliveries);
            }
            else
            {
                Interlocked.Increment(ref Counters.NotifiesDropped);
            }

            return true;
        }

        header.DstIdent = failed.Value;
        return false;
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

        // A random start, then the first member that can be reached: members in backoff are skipped.
        int start = Random.Shared.Next(count);
        PickAmong(context, nodes, selfMatches, (uint)start, null, selector, "no matching node reachable");
    }

    /// <summary>
    /// A packet for one member of a name or selector: the first, from <paramref name="start"/> on
    /// (wrapping), that can take it — this node's host (<paramref name="selfMember"/>, or this node
    /// among <paramref name="members"/>), or a peer not in backoff whose queue takes it. The packet
    /// goes on as dstIdent of the member picked; a request is remembered (<see cref="_picked"/>) so
    /// that it can go to another member if that one fails before anything was sent.
    /// </summary>
    private void PickAmong(PacketContext context, IReadOnlyList<Ident> members, bool selfMember, uint start, string? name, Hdr.Types.DstMask? selector, string none)
    {
        Hdr header = context.Header;
        int count = members.Count + (selfMember ? 1 : 0);
        bool sawFull = false;
        Picked? picked = null;
        for (int i = 0; i < count; i++)
        {
            int index = (int)((start + (uint)i) % (uint)count);
            Ident candidate = index < members.Count ? members[index] : _self;
            if (candidate == _self)
            {
                if (_host is null)
                {
                    continue;
                }

                if (header.RouteTypeCase == Hdr.RouteTypeOneofCase.DstIdent)
                {
                    // Rewritten for a member that could not take it.
                    header.DstIdent = _self.Value;
                }

                DeliverLocal(context);
                return;
            }

            if (_mesh is null || !_mesh.IsAvailable(candidate))
            {
                continue;
            }

            if (header.ExpectsResponse && picked is null)
            {
                // Before the send: the corral may give the packet back on another thread at once.
                picked = name is not null ? new Picked(name, 0, 0) : new Picked(null, selector!.Ident, selector.Mask);
                _picked.AddOrUpdate(header, picked);
            }

            header.DstIdent = candidate.Value;
            if (_mesh.TrySend(candidate, context.Packet, out bool queueFull))
            {
                context.TakePacket();
                Interlocked.Increment(ref Counters.Forwarded);
                context.Outcome = PacketOutcome.Forwarded;
                return;
            }

            sawFull |= queueFull;
        }

        Unroutable(context, sawFull ? RetCode.ResourceExhausted : RetCode.Unreachable, none);
    }

    /// <summary>
    /// A packet to a service name (docs/discovery.md): from this node's host, to one member picked
    /// round robin among those that can be reached, or to every member; from the network (no Kaze
    /// sidecar sends that: it sends names on as idents) to this node's host if it has the name.
    /// </summary>
    private void RouteName(PacketContext context, Hdr.Types.DstName route)
    {
        string name = route.Name;
        if (context.Origin == PacketOrigin.Network)
        {
            if (HasOwnName(name))
            {
                DeliverLocal(context);
            }
            else
            {
                Unroutable(context, RetCode.Unreachable, "not a member of the name");
            }

            return;
        }

        // Empty for a name nobody has, or one that is not a valid name (the resolver checks).
        IReadOnlyList<Ident> members = _names?.ResolveName(name) ?? [];
        bool ownName = HasOwnName(name);
        bool selfListed = Contains(members, _self);
        if (route.All)
        {
            var targets = new List<Ident>(members.Count);
            foreach (Ident member in members)
            {
                if (member != _self)
                {
                    targets.Add(member);
                }
            }

            FanOut(context, targets, includeLocal: _host is not null && (ownName || selfListed), byIdent: true);
            return;
        }

        if (members.Count == 0 && !ownName)
        {
            Unroutable(context, RetCode.Unreachable, "no node has the name");
            return;
        }

        PickAmong(context, members, ownName && !selfListed, Interlocked.Increment(ref _nextMember), name, null, "no node with the name reachable");
    }

    private bool HasOwnName(string name)
    {
        foreach (string own in _ownNames)
        {
            if (string.Equals(own, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(IReadOnlyList<Ident> members, Ident ident)
    {
        for (int i = 0; i < members.Count; i++)
        {
            if (members[i] == ident)
            {
                return true;
            }
        }

        return false;
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

    private void FanOut(PacketContext context, List<Ident> targets, bool includeLocal, bool byIdent = false)
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
            if (byIdent)
            {
                // A name's members: each copy goes on as a packet to that member.
                copy.Header.DstIdent = target.Value;
            }

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

    /// <summary>What a request for one member was sent to: a name, or a selector (ident, mask); and how often it went to another member since.</summary>
    private sealed class Picked(string? name, uint ident, uint mask)
    {
        public string? Name { get; } = name;

        public uint Ident { get; } = ident;

        public uint Mask { get; } = mask;

        // Interlocked.
        public int Retries;
    }

    /// <summary>The copies of one fan-out request not yet known to have failed.</summary>
    private sealed class FanOutGroup(int copies)
    {
        private int _out = copies;

        /// <summary>Counts one copy as failed; true for the last one out (once per group).</summary>
        public bool LastOut() => Interlocked.Decrement(ref _out) == 0;
    }

    // A name from a packet, for a log line: at most 63 characters, controls escaped.
    private static string Printable(string name)
    {
        string cut = name.Length > Kaze.Protocol.ServiceName.MaxLength ? name[..Kaze.Protocol.ServiceName.MaxLength] + "…" : name;
        return System.Text.Json.JsonEncodedText.Encode(cut).Value;
    }

    internal static string DescribeRoute(Hdr header) => header.RouteTypeCase switch
    {
        Hdr.RouteTypeOneofCase.DstIdent => new Ident(header.DstIdent).ToString(),
        Hdr.RouteTypeOneofCase.DstRandom => $"random {new Ident(header.DstRandom.Ident)}/{new Ident(header.DstRandom.Mask)}",
        Hdr.RouteTypeOneofCase.DstBroadcast => $"broadcast {new Ident(header.DstBroadcast.Ident)}/{new Ident(header.DstBroadcast.Mask)}",
        Hdr.RouteTypeOneofCase.DstMulticast => "multicast " + string.Join(",", header.DstMulticast.DstIdents.Select(i => new Ident(i).ToString())),
        Hdr.RouteTypeOneofCase.DstName => (header.DstName.All ? "every " : "name ") + Printable(header.DstName.Name),
        _ => "no route",
    };
}
