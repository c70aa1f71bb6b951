using Kaze.Protocol;

namespace Kaze.Resolver.Static;

/// <summary>
/// Answers from a fixed table of nodes given by <c>--node IDENT=HOST:PORT[/NAMES]</c> flags and the
/// configuration file, service names included. Every answer is a completed <see cref="ValueTask{TResult}"/>; a lookup that
/// finds its node allocates nothing.
/// </summary>
/// <remarks>
/// The table is an immutable <see cref="NodeTable"/> behind one volatile reference:
/// <see cref="Replace"/> swaps it atomically (a configuration reload), and each call reads exactly
/// one snapshot. The cancellation token is not observed: nothing here waits.
/// </remarks>
public sealed class StaticResolver : IResolver, INameResolver
{
    // The current snapshot; read once per call with Volatile.Read, swapped whole by Replace.
    private NodeTable _table;

    /// <summary>Creates a resolver answering from <paramref name="table"/>.</summary>
    /// <param name="table">The nodes; see <see cref="NodeTable.TryCreate"/>.</param>
    public StaticResolver(NodeTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        _table = table;
    }

    /// <summary>The table lookups answer from now.</summary>
    public NodeTable Table => Volatile.Read(ref _table);

    /// <summary>Makes <paramref name="table"/> the table every later lookup answers from.</summary>
    /// <param name="table">The new snapshot, e.g. from a reloaded configuration file.</param>
    /// <returns>The table it replaced.</returns>
    public NodeTable Replace(NodeTable table)
    {
        ArgumentNullException.ThrowIfNull(table);

        // Exchange publishes the fully built table (full fence): a reader that sees the new
        // reference sees its contents.
        return Interlocked.Exchange(ref _table, table);
    }

    /// <inheritdoc/>
    public ValueTask<NodeAddress?> ResolveAsync(Ident ident, CancellationToken cancellationToken = default) =>
        Volatile.Read(ref _table).TryGetAddress(ident, out NodeAddress address)
            ? new ValueTask<NodeAddress?>(address)
            : default;

    /// <inheritdoc/>
    /// <remarks>The list is read-only and shared between callers; results are remembered per (ident, mask).</remarks>
    public ValueTask<IReadOnlyList<Ident>> MatchAsync(Ident ident, uint mask, CancellationToken cancellationToken = default) =>
        new(Volatile.Read(ref _table).Match(new MatchKey(ident, mask)));

    /// <inheritdoc/>
    public IReadOnlyList<Ident> ResolveName(string name) => Volatile.Read(ref _table).Members(name);
}
