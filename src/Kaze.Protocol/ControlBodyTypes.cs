namespace Kaze.Protocol;

/// <summary>Body types the sidecar and its host use to control each other (not application traffic).</summary>
/// <remarks>Part of the host contract (docs/host-protocol.md): hosts in any language must handle <see cref="Exit"/>.</remarks>
public static class ControlBodyTypes
{
    /// <summary>
    /// Sidecar → host notify, empty body: the sidecar is shutting down; finish what is in flight and
    /// exit. The sidecar SIGKILLs the host when its grace period (default 5 s) runs out.
    /// </summary>
    public const string Exit = "kaze.exit";

    /// <summary>Host → sidecar notify: a log record to write through the sidecar's sinks.</summary>
    public const string Log = "log";
}
