using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using Kaze.Protocol;

namespace Kaze.Resolver.Static;

/// <summary>
/// An immutable snapshot of known nodes: the table a <see cref="StaticResolver"/> answers from.
/// Build one with <see cref="TryCreate"/>, which reports every problem at once.
/// </summary>
/// <remarks>
/// Lookups read a <see cref="FrozenDictionary{TKey, TValue}"/>. Match results are computed once per
/// (ident, mask) and kept with the snapshot, so a reload (a new table) starts with an empty cache.
/// </remarks>
public sealed class StaticNodeTable
{
    /// <summary>How many distinct selectors a table remembers the matches of.</summary>
    /// <remarks>
    /// Selectors come from packet headers, i.e. from the network: without a bound, a peer sending
    /// many different masks would grow the cache without end. Past the bound, matches are computed
    /// on each call (a scan of <see cref="Count"/> idents).
    /// </remarks>
    internal const int MaxCachedMatches = 4096;

    private static readonly ReadOnlyCollection<Ident> NoIdents = ReadOnlyCollection<Ident>.Empty;

    // Ident → address; never changes after construction.
    private readonly FrozenDictionary<Ident, NodeAddress> _addresses;

    // Every ident, ascending: the stable order of match results.
    private readonly Ident[] _idents;

    // Every entry as given (the first source of each), by ascending ident.
    private readonly NodeEntry[] _entries;

    // Selector → read-only match result; grows up to MaxCachedMatches, entries never change.
    private readonly ConcurrentDictionary<MatchKey, ReadOnlyCollection<Ident>> _matches = new();

    private StaticNodeTable(NodeEntry[] entries)
    {
        _entries = entries;
        _idents = Array.ConvertAll(entries, static entry => entry.Ident);
        _addresses = entries.ToFrozenDictionary(static entry => entry.Ident, static entry => entry.Address);
    }

    /// <summary>A table that knows no node.</summary>
    public static StaticNodeTable Empty { get; } = new([]);

    /// <summary>How many nodes the table knows.</summary>
    public int Count => _idents.Length;

    /// <summary>Every node the table knows, by ascending ident, with the source it was first given by.</summary>
    public IReadOnlyList<NodeEntry> Entries => _entries.AsReadOnly();

    /// <summary>Builds a table from entries gathered from the command line and the configuration file.</summary>
    /// <param name="entries">The entries, in any order. The same ident twice with the same address is one node.</param>
    /// <param name="table">The table, or null if there were problems.</param>
    /// <param name="errors">
    /// Empty on success; otherwise one sentence per problem, all of them: an ident given with different
    /// addresses (each address is listed with its <see cref="NodeEntry.Source"/>), or the ident 0.0.0.0,
    /// which as a destination means "this sidecar's host" and cannot name a peer.
    /// </param>
    /// <returns>True if the entries form a table.</returns>
    public static bool TryCreate(IEnumerable<NodeEntry> entries, [NotNullWhen(true)] out StaticNodeTable? table, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(entries);

        // Ident → every distinct address given for it, in the order given (for the message).
        var byIdent = new Dictionary<Ident, List<NodeEntry>>();
        var problems = new List<string>();
        bool anyReserved = false;
        foreach (NodeEntry entry in entries)
        {
            if (entry.Ident == Ident.Any)
            {
                if (!anyReserved)
                {
                    problems.Add($"'{entry}'{From(entry)}: the ident 0.0.0.0 is reserved (as a destination it means this sidecar's own host) and cannot name a peer");
                    anyReserved = true;
                }

                continue;
            }

            if (!byIdent.TryGetValue(entry.Ident, out List<NodeEntry>? seen))
            {
                byIdent.Add(entry.Ident, [entry]);
            }
            else if (!seen.Exists(e => e.Address == entry.Address))
            {
                seen.Add(entry);
            }
        }

        var unique = new List<NodeEntry>(byIdent.Count);
        foreach ((Ident ident, List<NodeEntry> seen) in byIdent.OrderBy(pair => pair.Key.Value))
        {
            if (seen.Count > 1)
            {
                string listed = string.Join(" and ", seen.Select(e => $"{e.Address}{From(e)}"));
                problems.Add($"ident {ident} is given {seen.Count} different addresses: {listed}");
                continue;
            }

            unique.Add(seen[0]);
        }

        if (problems.Count != 0)
        {
            table = null;
            errors = problems;
            return false;
        }

        table = new StaticNodeTable([.. unique]);
        errors = [];
        return true;
    }

    /// <summary>Builds a table, or throws <see cref="ArgumentException"/> listing every problem (see <see cref="TryCreate"/>).</summary>
    /// <param name="entries">The entries, in any order.</param>
    /// <returns>The table.</returns>
    public static StaticNodeTable Create(IEnumerable<NodeEntry> entries)
    {
        if (!TryCreate(entries, out StaticNodeTable? table, out IReadOnlyList<string> errors))
        {
            ThrowHelper.ThrowInvalidOptions("static node table", errors);
        }

        return table;
    }

    /// <summary>The address of <paramref name="ident"/>, if the table knows it.</summary>
    /// <param name="ident">The node.</param>
    /// <param name="address">Its address, or default.</param>
    /// <returns>True if the table knows the node.</returns>
    public bool TryGetAddress(Ident ident, out NodeAddress address) => _addresses.TryGetValue(ident, out address);

    /// <summary>Every known node with <c>(node &amp; mask) == ident</c>, by ascending ident; read-only and shared.</summary>
    internal IReadOnlyList<Ident> Match(MatchKey key)
    {
        if (_matches.TryGetValue(key, out ReadOnlyCollection<Ident>? cached))
        {
            return cached;
        }

        return MatchAndRemember(key);
    }

    private ReadOnlyCollection<Ident> MatchAndRemember(MatchKey key)
    {
        ReadOnlyCollection<Ident> result = Scan(key);

        // Count is a lock-taking call; it runs only on a miss, which allocates anyway.
        if (_matches.Count < MaxCachedMatches)
        {
            // Another thread may have added the same result meanwhile; either copy is equal.
            result = _matches.GetOrAdd(key, result);
        }

        return result;
    }

    private ReadOnlyCollection<Ident> Scan(MatchKey key)
    {
        if (key.IsUnsatisfiable)
        {
            return NoIdents;
        }

        var found = new List<Ident>();
        foreach (Ident ident in _idents)
        {
            if (ident.Matches(key.Ident, key.Mask))
            {
                found.Add(ident);
            }
        }

        return found.Count == 0 ? NoIdents : found.AsReadOnly();
    }

    private static string From(NodeEntry entry) => entry.Source is null ? "" : $" (from {entry.Source})";
}
