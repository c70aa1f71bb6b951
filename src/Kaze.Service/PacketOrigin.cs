namespace Kaze.Service;

/// <summary>Where a packet entered this sidecar.</summary>
public enum PacketOrigin
{
    /// <summary>From the local host, through the channel.</summary>
    Host = 0,

    /// <summary>From another sidecar, over TCP.</summary>
    Network = 1,

    /// <summary>Made by the sidecar itself (a timeout or unreachable response, a plugin).</summary>
    Sidecar = 2,
}
