using Kaze.Protocol;

namespace Kaze.Service;

/// <summary>One packet on its way through the pipeline, with what middleware needs to know about it.</summary>
/// <remarks>
/// The context owns <see cref="Packet"/>: whoever finally consumes the packet (a router that
/// forwards it, a middleware that drops it) calls <see cref="TakePacket"/> and becomes its owner;
/// a packet nobody took is disposed with the context.
/// </remarks>
public sealed class PacketContext : IDisposable
{
    private Packet? _packet;
    private Dictionary<object, object?>? _items;

    /// <summary>Creates a context that owns <paramref name="packet"/>.</summary>
    public PacketContext(Packet packet, PacketOrigin origin, Ident from, IPacketReplier replier, IServiceProvider? services = null)
    {
        _packet = packet;
        Header = packet.Header;
        Origin = origin;
        From = from;
        Replier = replier;
        Services = services ?? EmptyServiceProvider.Instance;
    }

    /// <summary>The packet; throws once it has been taken.</summary>
    public Packet Packet => _packet ?? throw new InvalidOperationException("The packet has been taken from this context.");

    /// <summary>The packet's header (still readable after the packet was taken).</summary>
    public Hdr Header { get; }

    /// <summary>Where the packet entered this sidecar.</summary>
    public PacketOrigin Origin { get; }

    /// <summary>The node it came from: this node for the local host, the peer sidecar for the network.</summary>
    public Ident From { get; }

    /// <summary>Sends packets back towards the origin.</summary>
    public IPacketReplier Replier { get; }

    /// <summary>The sidecar's services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Per-packet state shared between middlewares.</summary>
    public IDictionary<object, object?> Items => _items ??= new Dictionary<object, object?>();

    /// <summary>What happened to the packet, for logs and metrics; set by whoever consumed it.</summary>
    public PacketOutcome Outcome { get; set; }

    /// <summary>Takes ownership of the packet; the context will not dispose it.</summary>
    public Packet TakePacket()
    {
        Packet packet = Packet;
        _packet = null;
        return packet;
    }

    /// <summary>
    /// Answers the packet with <paramref name="code"/> and an empty body, if it is a request that
    /// expects an answer; otherwise does nothing. Returns whether a response was sent.
    /// </summary>
    public bool TryRespond(RetCode code, Ident responder)
    {
        if (!Header.ExpectsResponse)
        {
            return false;
        }

        Hdr header = Hdr.CreateResponse(Header, code);
        header.SrcIdent = responder.Value;
        return Replier.TrySend(Packet.Create(header, ReadOnlySpan<byte>.Empty));
    }

    /// <summary>Disposes the packet if nobody took it.</summary>
    public void Dispose()
    {
        _packet?.Dispose();
        _packet = null;
    }

    private sealed class EmptyServiceProvider : IServiceProvider
    {
        public static readonly EmptyServiceProvider Instance = new();

        public object? GetService(Type serviceType) => null;
    }
}
