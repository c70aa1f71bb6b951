namespace Kaze.Http;

/// <summary>What the gateway counted (for tests and logs); fields are updated with Interlocked.</summary>
public sealed class HttpCounters
{
    internal long EgressStarted;
    internal long EgressRefused;
    internal long IngressStarted;
    internal long IngressRefused;
    internal long Resets;
    internal long Violations;
    internal long Stray;

    /// <summary>Exchanges the loopback port began (requests from the host to the mesh).</summary>
    public long Egress => Volatile.Read(ref EgressStarted);

    /// <summary>Requests the loopback port answered itself without sending anything (bad, oversized, too many).</summary>
    public long EgressRefusals => Volatile.Read(ref EgressRefused);

    /// <summary>Exchanges from the mesh forwarded to the app.</summary>
    public long Ingress => Volatile.Read(ref IngressStarted);

    /// <summary>Exchanges from the mesh refused (no app port, malformed, too many).</summary>
    public long IngressRefusals => Volatile.Read(ref IngressRefused);

    /// <summary>Exchanges aborted (a reset sent or received).</summary>
    public long Aborts => Volatile.Read(ref Resets);

    /// <summary>Packets from another gateway that broke the rules (more than granted, bad entries).</summary>
    public long ProtocolViolations => Volatile.Read(ref Violations);

    /// <summary>Exchange packets for no exchange of this gateway (late, or forged), dropped.</summary>
    public long StrayPackets => Volatile.Read(ref Stray);
}
