namespace Kaze.Resolver.Etcd;

/// <summary>Where an <see cref="EtcdRegistry"/> stands with etcd, for `kaze status`, metrics and logs.</summary>
/// <param name="Reachable">
/// True while the last watch and lease renewal (if this node is registered) reached etcd. While false,
/// the registry answers from the last view it had.
/// </param>
/// <param name="Since">When <paramref name="Reachable"/> last changed (or the registry started).</param>
/// <param name="LastError">What failed last, naming the endpoints; null if nothing failed yet.</param>
/// <param name="Revision">The etcd revision the view is at; 0 before the first load.</param>
/// <param name="Nodes">Nodes in the view.</param>
/// <param name="MalformedEntries">Keys under the nodes prefix that were ignored (not a canonical ident, a value that is not a node's), since start, counting each time one was seen.</param>
/// <param name="Resyncs">Full reloads of the view after the first (a reconnect, a compacted revision).</param>
/// <param name="Registered">The entry this node registered, or null.</param>
/// <param name="LeaseId">The lease of that entry; 0 if none.</param>
/// <param name="Reregistrations">Times the entry was written again after its lease was lost (etcd forgot it, or it expired while etcd was out of reach).</param>
public sealed record EtcdRegistryStatus(
    bool Reachable,
    DateTimeOffset Since,
    string? LastError,
    long Revision,
    int Nodes,
    long MalformedEntries,
    long Resyncs,
    NodeEntry? Registered,
    long LeaseId,
    long Reregistrations);

/// <summary>What one change of the view did; the new view is <see cref="View"/>.</summary>
/// <param name="Added">Nodes that appeared.</param>
/// <param name="Updated">Nodes whose address or names changed (the new entries).</param>
/// <param name="Removed">Nodes that are gone (the entries they had).</param>
/// <param name="View">The view after the change.</param>
public sealed record RegistryChange(
    IReadOnlyList<NodeEntry> Added,
    IReadOnlyList<NodeEntry> Updated,
    IReadOnlyList<NodeEntry> Removed,
    NodeTable View);
