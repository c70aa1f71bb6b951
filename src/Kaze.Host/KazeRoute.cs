using System.Collections.ObjectModel;
using Kaze.Protocol;

namespace Kaze.Host;

/// <summary>The kinds of <see cref="KazeRoute"/>: the route fields of the packet header.</summary>
public enum KazeRouteKind
{
    /// <summary>One node (<c>dstIdent</c>); 0.0.0.0 is this host itself.</summary>
    Node = 0,

    /// <summary>One node, picked at random by the sender's sidecar, among those the selector matches (<c>dstRandom</c>).</summary>
    Random = 1,

    /// <summary>Every node the selector matches except the sender's own (<c>dstBroadcast</c>).</summary>
    Broadcast = 2,

    /// <summary>Each node of a list once (<c>dstMulticast</c>).</summary>
    Multicast = 3,

    /// <summary>One node registered under a service name, picked by the sender's sidecar among those it can reach (<c>dstName</c>).</summary>
    Name = 4,

    /// <summary>Every node registered under a service name, this one included if it has the name (<c>dstName</c> with <c>all</c>).</summary>
    NameBroadcast = 5,
}

/// <summary>
/// Where a packet goes, for the <c>SendAsync</c> and <c>CallAsync</c> overloads of <see cref="KazeClient"/>
/// that take one: one node, one node of a group picked at random, every node of a group, a list of
/// nodes, or one or every node registered under a service name.
/// </summary>
/// <remarks>
/// <para>
/// A group is a selector: the nodes whose ident, masked with <see cref="Mask"/>, equals
/// <see cref="Ident"/> (<see cref="Kaze.Protocol.Ident.Matches"/>); e.g. ident 10.1.0.0 with mask
/// 255.255.0.0 (0xFFFF0000) is every node 10.1.x.y. The sender's sidecar resolves the group and fans
/// the packet out once; the nodes that receive it never send it on.
/// </para>
/// <para>
/// A call to a group gets one response: from the node picked (random), or the first to answer
/// (broadcast, multicast; the sidecar drops the others). When no node of the group can be
/// reached, the call is answered <see cref="RetCode.Unreachable"/> at once.
/// </para>
/// <para>
/// A service name (<see cref="Name"/>, <see cref="NameBroadcast"/>; docs/discovery.md) is resolved by
/// the sender's sidecar, from etcd or its static nodes, to the nodes registered under it; one is
/// picked among those it can reach (round robin), and if it fails before anything was sent the call
/// goes to another. No member left: <see cref="RetCode.Unreachable"/> at once.
/// </para>
/// <para>The default value is <see cref="Node"/>(<see cref="Kaze.Protocol.Ident.Any"/>): this host itself.</para>
/// </remarks>
public readonly struct KazeRoute : IEquatable<KazeRoute>
{
    // Multicast only: the members, copied from the caller's list; null for every other kind.
    private readonly uint[]? _members;

    // Name and NameBroadcast only: the service name; null for every other kind.
    private readonly string? _name;

    private KazeRoute(KazeRouteKind kind, Ident ident, uint mask, uint[]? members, string? name = null)
    {
        Kind = kind;
        Ident = ident;
        Mask = mask;
        _members = members;
        _name = name;
    }

    /// <summary>Which route this is.</summary>
    public KazeRouteKind Kind { get; }

    /// <summary>The node (<see cref="KazeRouteKind.Node"/>) or the selector's ident (random, broadcast); 0.0.0.0 for multicast.</summary>
    public Ident Ident { get; }

    /// <summary>The selector's mask (random, broadcast); 0 for the other kinds.</summary>
    public uint Mask { get; }

    /// <summary>The nodes of a multicast, in the order given; empty for the other kinds.</summary>
    public IReadOnlyList<Ident> Members => _members is null ? ReadOnlyCollection<Ident>.Empty : Array.ConvertAll(_members, static value => new Ident(value));

    /// <summary>The service name (<see cref="KazeRouteKind.Name"/>, <see cref="KazeRouteKind.NameBroadcast"/>); null for the other kinds.</summary>
    public string? ServiceName => _name;

    /// <summary>One node: what the overloads of <see cref="KazeClient"/> that take an <see cref="Kaze.Protocol.Ident"/> send to.</summary>
    /// <param name="node">The node; <see cref="Kaze.Protocol.Ident.Any"/> for this host itself.</param>
    /// <returns>The route.</returns>
    public static KazeRoute Node(Ident node) => new(KazeRouteKind.Node, node, 0, null);

    /// <summary>One node picked at random among those with <c>(node &amp; mask) == ident</c>, this node included if it matches.</summary>
    /// <param name="ident">The selector's ident: no bits outside <paramref name="mask"/>.</param>
    /// <param name="mask">The bits of a node's ident that must equal <paramref name="ident"/>'s, e.g. 0xFFFFFF00.</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentException"><paramref name="ident"/> has bits outside <paramref name="mask"/>: no node could match.</exception>
    public static KazeRoute Random(Ident ident, uint mask) => new(KazeRouteKind.Random, CheckSelector(ident, mask), mask, null);

    /// <summary>Every node with <c>(node &amp; mask) == ident</c>, never back to this node.</summary>
    /// <param name="ident">The selector's ident: no bits outside <paramref name="mask"/>.</param>
    /// <param name="mask">The bits of a node's ident that must equal <paramref name="ident"/>'s, e.g. 0xFFFFFF00.</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentException"><paramref name="ident"/> has bits outside <paramref name="mask"/>: no node could match.</exception>
    public static KazeRoute Broadcast(Ident ident, uint mask) => new(KazeRouteKind.Broadcast, CheckSelector(ident, mask), mask, null);

    /// <summary>Each of <paramref name="nodes"/> once; this node's own ident (or 0.0.0.0) in the list reaches this host.</summary>
    /// <param name="nodes">At least one node; copied.</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="nodes"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="nodes"/> is empty.</exception>
    public static KazeRoute Multicast(params Ident[] nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Length == 0)
        {
            throw new ArgumentException("A multicast needs at least one node.", nameof(nodes));
        }

        return new KazeRoute(KazeRouteKind.Multicast, Ident.Any, 0, Array.ConvertAll(nodes, static node => node.Value));
    }

    /// <summary>
    /// One node registered under the service name <paramref name="name"/> (this node included, if it
    /// has the name), picked by this host's sidecar among those it can reach.
    /// </summary>
    /// <param name="name">The name: 1-63 characters of a-z 0-9 . - (docs/discovery.md).</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a service name; the message says why.</exception>
    public static KazeRoute Name(string name) => new(KazeRouteKind.Name, Ident.Any, 0, null, CheckName(name));

    /// <summary>Every node registered under the service name <paramref name="name"/>, this node included if it has the name.</summary>
    /// <param name="name">The name: 1-63 characters of a-z 0-9 . - (docs/discovery.md).</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a service name; the message says why.</exception>
    public static KazeRoute NameBroadcast(string name) => new(KazeRouteKind.NameBroadcast, Ident.Any, 0, null, CheckName(name));

    /// <summary>Whether both are the same route (multicast: the same members in the same order).</summary>
    /// <param name="other">The other route.</param>
    /// <returns>True if equal.</returns>
    public bool Equals(KazeRoute other) =>
        Kind == other.Kind && Ident == other.Ident && Mask == other.Mask && string.Equals(_name, other._name, StringComparison.Ordinal) &&
        (_members ?? []).AsSpan().SequenceEqual(other._members ?? []);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is KazeRoute other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Kind);
        hash.Add(Ident);
        hash.Add(Mask);
        hash.Add(_name, StringComparer.Ordinal);
        foreach (uint member in _members ?? [])
        {
            hash.Add(member);
        }

        return hash.ToHashCode();
    }

    /// <summary>Equality.</summary>
    /// <param name="left">A route.</param>
    /// <param name="right">Another.</param>
    /// <returns>True if equal.</returns>
    public static bool operator ==(KazeRoute left, KazeRoute right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">A route.</param>
    /// <param name="right">Another.</param>
    /// <returns>True if different.</returns>
    public static bool operator !=(KazeRoute left, KazeRoute right) => !left.Equals(right);

    /// <summary>For logs: "0.0.1.2", "random 0.0.1.0/255.255.255.0", "broadcast 0.0.1.0/255.255.255.0", "multicast 0.0.1.2,0.0.1.3", "name orders", "every orders".</summary>
    /// <returns>The description.</returns>
    public override string ToString() => Kind switch
    {
        KazeRouteKind.Random => $"random {Ident}/{new Ident(Mask)}",
        KazeRouteKind.Broadcast => $"broadcast {Ident}/{new Ident(Mask)}",
        KazeRouteKind.Multicast => "multicast " + string.Join(',', Members),
        KazeRouteKind.Name => "name " + _name,
        KazeRouteKind.NameBroadcast => "every " + _name,
        _ => Ident.ToString(),
    };

    /// <summary>Sets the header's route field (the oneof <c>routeType</c>) to this route.</summary>
    internal void ApplyTo(Hdr header)
    {
        switch (Kind)
        {
            case KazeRouteKind.Random:
                header.DstRandom = new Hdr.Types.DstMask { Ident = Ident.Value, Mask = Mask };
                break;
            case KazeRouteKind.Broadcast:
                header.DstBroadcast = new Hdr.Types.DstMask { Ident = Ident.Value, Mask = Mask };
                break;
            case KazeRouteKind.Multicast:
                var multicast = new Hdr.Types.DstMulticast();
                multicast.DstIdents.Add(_members!);
                header.DstMulticast = multicast;
                break;
            case KazeRouteKind.Name:
            case KazeRouteKind.NameBroadcast:
                header.DstName = new Hdr.Types.DstName { Name = _name, All = Kind == KazeRouteKind.NameBroadcast };
                break;
            default:
                header.DstIdent = Ident.Value;
                break;
        }
    }

    private static string CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Kaze.Protocol.ServiceName.IsValid(name, out string? error) ? name : throw new ArgumentException(error, nameof(name));
    }

    private static Ident CheckSelector(Ident ident, uint mask)
    {
        if ((ident.Value & ~mask) != 0)
        {
            throw new ArgumentException($"The selector {ident}/{new Ident(mask)} has bits outside its mask: no node can match it (did you mean {new Ident(ident.Value & mask)}?).", nameof(ident));
        }

        return ident;
    }
}
