namespace Kaze.Edge;

/// <summary>What the edge has moved and dropped since it started; read racily for metrics.</summary>
public sealed class EdgeCounters
{
    internal long PacketsFromHost;
    internal long BytesFromHost;
    internal long PacketsToHost;
    internal long BytesToHost;
    internal long DecodeErrors;
    internal long DroppedTooLarge;
    internal long DroppedQueueFull;
    internal long DroppedHostGone;
    internal long QueuedForHost;

    /// <summary>Packets read from the host.</summary>
    public long HostToSidecarPackets => Volatile.Read(ref PacketsFromHost);

    /// <summary>Payload bytes read from the host.</summary>
    public long HostToSidecarBytes => Volatile.Read(ref BytesFromHost);

    /// <summary>Packets written to the host.</summary>
    public long SidecarToHostPackets => Volatile.Read(ref PacketsToHost);

    /// <summary>Payload bytes written to the host.</summary>
    public long SidecarToHostBytes => Volatile.Read(ref BytesToHost);

    /// <summary>Records from the host that were not valid packets (dropped).</summary>
    public long MalformedFromHost => Volatile.Read(ref DecodeErrors);

    /// <summary>Packets for the host larger than its ring allows (dropped).</summary>
    public long DroppedTooLargeForRing => Volatile.Read(ref DroppedTooLarge);

    /// <summary>Packets for the host dropped because it read too slowly and the queue was full.</summary>
    public long DroppedHostSlow => Volatile.Read(ref DroppedQueueFull);

    /// <summary>Packets for the host dropped because it had closed or died.</summary>
    public long DroppedHostClosed => Volatile.Read(ref DroppedHostGone);

    /// <summary>Packets waiting in the queue for the host's ring now.</summary>
    public long Queued => Volatile.Read(ref QueuedForHost);
}
