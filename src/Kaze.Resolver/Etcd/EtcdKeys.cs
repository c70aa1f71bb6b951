using Kaze.Protocol;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// The key layout in etcd: <c>&lt;prefix&gt;/nodes/&lt;dotted ident&gt;</c> → the node's value
/// (<see cref="EtcdNodeValue"/>). Keys are written in canonical form ("0.0.0.1", no leading zeros);
/// others under the prefix are not Kaze's and are ignored (and counted).
/// </summary>
internal sealed class EtcdKeys
{
    public EtcdKeys(string prefix)
    {
        NodesPrefix = prefix.TrimEnd('/') + "/nodes/";
    }

    /// <summary>"/kaze/nodes/": every node key starts with it.</summary>
    public string NodesPrefix { get; }

    public string NodeKey(Ident ident) => NodesPrefix + ident.ToString();

    /// <summary>The ident a node key names, if it is one in canonical form.</summary>
    public bool TryParseNodeKey(string key, out Ident ident)
    {
        ident = default;
        if (!key.StartsWith(NodesPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        ReadOnlySpan<char> dotted = key.AsSpan(NodesPrefix.Length);
        if (!Ident.TryParse(dotted, out ident))
        {
            return false;
        }

        // "010.0.0.1" parses, but range queries by prefix would miss it: only canonical keys count.
        Span<char> canonical = stackalloc char[Ident.MaxLength];
        return ident.TryFormat(canonical, out int written) && dotted.SequenceEqual(canonical[..written]);
    }

    /// <summary>The range_end that selects every key starting with <paramref name="prefix"/>: the prefix with its last byte plus one.</summary>
    public static byte[] PrefixRangeEnd(byte[] prefix)
    {
        byte[] end = (byte[])prefix.Clone();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        // All 0xFF: etcd reads "\0" as "every key from key on".
        return [0];
    }
}
