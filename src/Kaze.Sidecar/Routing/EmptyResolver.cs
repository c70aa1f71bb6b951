using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Sidecar.Routing;

/// <summary>Knows no node: a sidecar without peers.</summary>
internal sealed class EmptyResolver : IResolver
{
    public static readonly EmptyResolver Instance = new();

    private static readonly ValueTask<IReadOnlyList<Ident>> NoNodes = new(Array.Empty<Ident>());

    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default) => default;

    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default) => NoNodes;
}
