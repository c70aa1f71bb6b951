using Kaze.Core;

namespace Kaze.Edge;

/// <summary>Settings of the sidecar's end of the channel.</summary>
/// <remarks>Defaults: 1 MiB rings each way, at most 65,536 packets queued for a host that reads slowly, releases every 64 records.</remarks>
public sealed class EdgeOptions
{
    /// <summary>Ring sizes. Default 1 MiB each way.</summary>
    public ChannelOptions Channel { get; init; } = new();

    /// <summary>Packets held for the host while its ring is full; beyond that, packets to the host are dropped and counted. Default 65,536.</summary>
    public int MaxQueuedPackets { get; init; } = 65_536;

    /// <summary>Records read from the host before the space is released in one go. Default 64.</summary>
    public int ReleaseBatch { get; init; } = 64;
}
