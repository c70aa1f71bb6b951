namespace Kaze.Sidecar.Routing;

/// <summary>Routing outcomes since start; read racily for metrics.</summary>
public sealed class RouterCounters
{
    internal long LocalDeliveries;
    internal long UnreachableAnswered;
    internal long NotifiesDropped;
    internal long PipelineErrors;
    internal long Forwarded;
    internal long ExhaustedAnswered;
    internal long TimeoutsAnswered;
    internal long LateResponses;
    internal long Retried;

    /// <summary>Packets handed to the local host.</summary>
    public long Delivered => Volatile.Read(ref LocalDeliveries);

    /// <summary>Requests answered with RET_UNREACHABLE.</summary>
    public long Unreachable => Volatile.Read(ref UnreachableAnswered);

    /// <summary>Notifies (and responses) without a route, dropped.</summary>
    public long Dropped => Volatile.Read(ref NotifiesDropped);

    /// <summary>Packets sent on to other sidecars.</summary>
    public long ForwardedToPeers => Volatile.Read(ref Forwarded);

    /// <summary>Requests answered with RET_RESOURCE_EXHAUSTED (a peer's queue was full).</summary>
    public long ResourceExhausted => Volatile.Read(ref ExhaustedAnswered);

    /// <summary>Requests answered with RET_TIMEOUT by the tracker.</summary>
    public long Timeouts => Volatile.Read(ref TimeoutsAnswered);

    /// <summary>Responses that arrived after their request had timed out (dropped).</summary>
    public long Late => Volatile.Read(ref LateResponses);

    /// <summary>Requests for one member of a name or selector sent to another member after the first failed before anything was sent.</summary>
    public long RetriedOnAnotherMember => Volatile.Read(ref Retried);

    /// <summary>Packets on which a middleware threw.</summary>
    public long Errors => Volatile.Read(ref PipelineErrors);
}
