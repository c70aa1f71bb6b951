using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>
/// An immutable snapshot of known nodes: the table a <see cref="Static.StaticResolver"/> answers from,
/// and the local view an <see cref="Etcd.EtcdRegistry"/> keeps of etcd. Build one with
/// <see cref="TryCreate"/>, which reports every problem at once.
/// </summary>
/// <remarks>
/// Lookups read a <see cref="FrozenDictionary{TKey, TValue}"/>: by ident, and by service name (the
/// members of each name, by ascending ident, computed once). Match results are computed once per
/// (ident, mask) and kept with the snapshot, so a reload (a new table) starts with an empty cache.
/// </remarks>
public sealed class NodeTable
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

    // Service name → its members by ascending ident; read-only lists shared by every caller.
    private readonly FrozenDictionary<string, ReadOnlyCollection<Ident>> _members;

    // Selector → read-only match result; grows up to MaxCachedMatches, entries never change.
    private readonly ConcurrentDictionary<MatchKey, ReadOnlyCollection<Ident>> _matches = new();

    private NodeTable(NodeEntry[] entries)
    {
        _entries = entries;
        _idents = Array.ConvertAll(entries, static entry => entry.Ident);
        _addresses = entries.ToFrozenDictionary(static entry => entry.Ident, static entry => entry.Address);
        var members = new Dictionary<string, List<Ident>>(StringComparer.Ordinal);
        foreach (NodeEntry entry in entries)
        {
            foreach (string name in entry.Names)
            {
                if (!members.TryGetValue(name, out List<Ident>? list))
                {
                    members.Add(name, list = []);
                }

                // Entries are by ascending ident, and each lists a name once: the list stays sorted and distinct.
                list.Add(entry.Ident);
            }
        }

        _members = members.Count == 0
            ? FrozenDictionary<string, ReadOnlyCollection<Ident>>.Empty
            : members.ToFrozenDictionary(static pair => pair.Key, static pair => pair.Value.AsReadOnly(), StringComparer.Ordinal);
    }

    /// <summary>A table that knows no node.</summary>
    public static NodeTable Empty { get; } = new([]);

    /// <summary>How many nodes the table knows.</summary>
    public int Count => _idents.Length;

    /// <summary>Every node the table knows, by ascending ident, with the source it was first given by.</summary>
    public IReadOnlyList<NodeEntry> Entries => _entries.AsReadOnly();

    /// <summary>Every service name some node of the table answers to, in no particular order.</summary>
    public IEnumerable<string> Names => _members.Keys;

    /// <summary>Builds a table from entries gathered from the command line and the configuration file.</summary>
    /// <param name="entries">The entries, in any order. The same ident twice with the same address is one node.</param>
    /// <param name="table">The table, or null if there were problems.</param>
    /// <param name="errors">
    /// Empty on success; otherwise one sentence per problem, all of them: an ident given with different
    /// addresses (each address is listed with its <see cref="NodeEntry.Source"/>), the ident 0.0.0.0,
    /// which as a destination means "this sidecar's host" and cannot name a peer, or a name that is not
    /// a <see cref="ServiceName"/>. The same ident given twice at one address is one node with the
    /// names of both.
    /// </param>
    /// <returns>True if the entries form a table.</returns>
    public static bool TryCreate(IEnumerable<NodeEntry> entries, [NotNullWhen(true)] out NodeTable? table, out IReadOnlyList<string> errors)
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

            foreach (string name in entry.Names)
            {
                if (!ServiceName.IsValid(name, out string? nameError))
                {
                    problems.Add($"'{entry}'{From(entry)}: {nameError}");
                }
            }

            if (!byIdent.TryGetValue(entry.Ident, out List<NodeEntry>? seen))
            {
                byIdent.Add(entry.Ident, [entry]);
            }
            else
            {
                int same = seen.FindIndex(e => e.Address == entry.Address);
                if (same < 0)
                {
                    seen.Add(entry);
                }
                else if (entry.Names.Count != 0)
                {
                    // The same node again: it answers to the names of both.
                    seen[same] = seen[same] with { Names = [.. seen[same].Names.Union(entry.Names, StringComparer.Ordinal)] };
                }
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

        table = new NodeTable([.. unique]);
        errors = [];
        return true;
    }

    /// <summary>A table of entries already checked, by ascending ident, each ident once (a registry's view).</summary>
    internal static NodeTable FromSorted(NodeEntry[] entries) => entries.Length == 0 ? Empty : new NodeTable(entries);

    /// <summary>Builds a table, or throws <see cref="ArgumentException"/> listing every problem (see <see cref="TryCreate"/>).</summary>
    /// <param name="entries">The entries, in any order.</param>
    /// <returns>The table.</returns>
    public static NodeTable Create(IEnumerable<NodeEntry> entries)
    {
        if (!TryCreate(entries, out NodeTable? table, out IReadOnlyList<string> errors))
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

    /// <summary>The entry of <paramref name="ident"/>, if the table knows it.</summary>
    /// <param name="ident">The node.</param>
    /// <param name="entry">Its entry, or default.</param>
    /// <returns>True if the table knows the node.</returns>
    public bool TryGetEntry(Ident ident, out NodeEntry entry)
    {
        int index = Array.BinarySearch(_idents, ident, IdentOrder.Instance);
        entry = index >= 0 ? _entries[index] : default;
        return index >= 0;
    }

    /// <summary>
    /// The nodes that answer to <paramref name="name"/>, by ascending ident; empty if none. The list is
    /// read-only and shared: a lookup allocates nothing.
    /// </summary>
    /// <param name="name">A service name, compared byte for byte.</param>
    /// <returns>The members.</returns>
    public IReadOnlyList<Ident> Members(string name) =>
        _members.TryGetValue(name, out ReadOnlyCollection<Ident>? members) ? members : NoIdents;

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

    private sealed class IdentOrder : IComparer<Ident>
    {
        public static readonly IdentOrder Instance = new();

        public int Compare(Ident x, Ident y) => x.Value.CompareTo(y.Value);
    }

    private static string From(NodeEntry entry) => entry.Source is null ? "" : $" (from {entry.Source})";
}
