using Kaze.Protocol;

namespace Kaze.Sidecar.Routing;

/// <summary>What the router needs from the connections to other sidecars.</summary>
internal interface IMeshLink
{
    /// <summary>
    /// Queues <paramref name="packet"/> for <paramref name="peer"/>. True: the link owns the packet.
    /// False: not sent (peer unreachable or its queue full); the caller keeps the packet.
    /// </summary>
    bool TrySend(Ident peer, Packet packet, out bool queueFull);

    /// <summary>
    /// False while a send to <paramref name="peer"/> would be refused (its last connection attempt
    /// failed and the backoff runs): members of a name or selector in that state are skipped. Cheap.
    /// </summary>
    bool IsAvailable(Ident peer);
}
