using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>Finds where a node's sidecar listens, and which nodes a selector matches.</summary>
/// <remarks>
/// Called per packet on the routing path: an implementation answers from memory when it can
/// (a completed <see cref="ValueTask"/>, no allocation) and goes to the network only on a miss.
/// </remarks>
public interface IResolver
{
    /// <summary>The address of <paramref name="ident"/>'s sidecar, or null if this resolver does not know the node.</summary>
    ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default);

    /// <summary>Every node this resolver knows with <c>(node &amp; mask) == ident</c>, each once, in a stable order.</summary>
    ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default);
}
