namespace Kaze.Host.Testing;

/// <summary>A failure an <see cref="InMemorySidecar"/> injects for traffic to one node.</summary>
public enum InMemoryFault
{
    /// <summary>No failure: the node's fake handlers answer (or Unreachable if it has none).</summary>
    None = 0,

    /// <summary>Requests and notifies to the node vanish silently: calls to it time out.</summary>
    Drop,

    /// <summary>Requests to the node are answered RET_UNREACHABLE at once, as for a node nobody can reach.</summary>
    Unreachable,
}
