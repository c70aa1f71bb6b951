using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>Finds the nodes registered under a service name (<see cref="ServiceName"/>).</summary>
/// <remarks>
/// Called per packet routed by name: an implementation answers from memory (a local table, or its
/// local view of a registry), synchronously, and a lookup allocates nothing.
/// </remarks>
public interface INameResolver
{
    /// <summary>
    /// The nodes that answer to <paramref name="name"/>, by ascending ident, each once; empty if none
    /// (or if <paramref name="name"/> is not a valid name). The list is read-only and may be shared.
    /// </summary>
    /// <param name="name">The service name, compared byte for byte.</param>
    /// <returns>The members.</returns>
    IReadOnlyList<Ident> ResolveName(string name);
}
