namespace Kaze.Service;

/// <summary>What finally happened to a packet.</summary>
public enum PacketOutcome
{
    /// <summary>Nothing recorded yet.</summary>
    None = 0,

    /// <summary>Handed to the local host.</summary>
    DeliveredToHost,

    /// <summary>Sent to one or more peer sidecars.</summary>
    Forwarded,

    /// <summary>Answered by the sidecar with an error code (unreachable, timeout, resource exhausted).</summary>
    Answered,

    /// <summary>Dropped; <see cref="PacketContext.Items"/> or the logs say why.</summary>
    Dropped,
}
