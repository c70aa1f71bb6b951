namespace Kaze.Sidecar.Routing;

/// <summary>Routing outcomes since start; read racily for metrics.</summary>
public sealed class RouterCounters
{
    internal long LocalDeliveries;
    internal long UnreachableAnswered;
    internal long NotifiesDropped;
    internal long PipelineErrors;

    /// <summary>Packets handed to the local host.</summary>
    public long Delivered => Volatile.Read(ref LocalDeliveries);

    /// <summary>Requests answered with RET_UNREACHABLE.</summary>
    public long Unreachable => Volatile.Read(ref UnreachableAnswered);

    /// <summary>Notifies (and responses) without a route, dropped.</summary>
    public long Dropped => Volatile.Read(ref NotifiesDropped);

    /// <summary>Packets on which a middleware threw.</summary>
    public long Errors => Volatile.Read(ref PipelineErrors);
}
