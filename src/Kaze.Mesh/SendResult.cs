namespace Kaze.Mesh;

/// <summary>What <see cref="PeerCorral.TrySend"/> did with a packet.</summary>
/// <remarks>
/// Only <see cref="Queued"/> transfers ownership of the packet to the corral. On every other
/// result the caller still owns the packet and disposes it (or answers it).
/// </remarks>
public enum SendResult
{
    /// <summary>
    /// Queued for the peer; the corral owns the packet. It is written to the peer's connection, or,
    /// if that turns out to be impossible, handed to the corral's undeliverable callback.
    /// </summary>
    Queued = 0,

    /// <summary>
    /// The peer cannot be reached now: the last connection attempt failed and the corral waits
    /// before trying again, or the corral is shut down. The caller keeps the packet.
    /// </summary>
    Unreachable = 1,

    /// <summary>The peer's queue is full (it reads too slowly, or is gone and not yet noticed). The caller keeps the packet.</summary>
    QueueFull = 2,

    /// <summary>The packet's frame is over this sidecar's maximum frame size. The caller keeps the packet.</summary>
    TooLarge = 3,
}
