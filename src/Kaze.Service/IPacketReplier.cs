using Kaze.Protocol;

namespace Kaze.Service;

/// <summary>Sends a packet back the way another one came (to the local host, or to the peer sidecar it came from).</summary>
public interface IPacketReplier
{
    /// <summary>Queues <paramref name="packet"/> towards the origin; takes ownership of it. False if it was dropped (origin gone or full).</summary>
    bool TrySend(Packet packet);
}
