using Kaze.Protocol;

namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>A scriptable inner resolver that counts its calls.</summary>
internal sealed class FakeResolver : IResolver
{
    private int _resolveCalls;
    private int _matchCalls;

    /// <summary>What ResolveAsync does; by default, looks up <see cref="Nodes"/>.</summary>
    public Func<Ident, ValueTask<NodeAddress?>> OnResolve { get; set; }

    /// <summary>What MatchAsync does; by default, matches over <see cref="Nodes"/> in insertion order.</summary>
    public Func<Ident, uint, ValueTask<IReadOnlyList<Ident>>> OnMatch { get; set; }

    public Dictionary<Ident, NodeAddress> Nodes { get; } = [];

    public int ResolveCalls => Volatile.Read(ref _resolveCalls);

    public int MatchCalls => Volatile.Read(ref _matchCalls);

    public FakeResolver()
    {
        OnResolve = ident => new ValueTask<NodeAddress?>(Nodes.TryGetValue(ident, out NodeAddress a) ? a : null);
        OnMatch = (ident, mask) => new ValueTask<IReadOnlyList<Ident>>(Nodes.Keys.Where(n => n.Matches(ident, mask)).ToList());
    }

    public FakeResolver With(string ident, string address)
    {
        Nodes[Ident.Parse(ident)] = NodeAddress.Parse(address);
        return this;
    }

    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _resolveCalls);
        return OnResolve(ident);
    }

    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _matchCalls);
        return OnMatch(ident, mask);
    }
}
