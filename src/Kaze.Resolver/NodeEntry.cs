using System.Diagnostics.CodeAnalysis;
using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>
/// One node of a <see cref="NodeTable"/>: its ident, where its sidecar listens, the service names it
/// is registered under, and where that was said.
/// </summary>
/// <param name="Ident">The node.</param>
/// <param name="Address">Where the node's sidecar listens.</param>
public readonly record struct NodeEntry(Ident Ident, NodeAddress Address)
{
    /// <summary>Where the entry came from, for error messages, e.g. "--node", "kaze.json" or "etcd"; null if unknown.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// The service names the node answers to (<see cref="ServiceName"/>), e.g. "orders"; empty for none
    /// (never null, also in a default entry). The record's equality compares the list by reference.
    /// </summary>
    public IReadOnlyList<string> Names
    {
        get => _names ?? [];
        init => _names = value;
    }

    // Null in a default(NodeEntry); Names reads it as empty.
    private readonly IReadOnlyList<string>? _names;

    /// <summary>
    /// When the node registered (its own clock, from its etcd entry), or null if unknown (static entries).
    /// </summary>
    public DateTimeOffset? RegisteredAt { get; init; }

    /// <summary>
    /// Parses "IDENT=HOST:PORT[/NAME[,NAME...]]", e.g. "0.0.0.1=127.0.0.1:6081",
    /// "0.0.0.2=[::1]:6081" or "0.0.0.3=10.0.0.3:6081/orders,billing".
    /// </summary>
    /// <param name="text">The text of one <c>--node</c> flag or one configuration entry; spaces around either part are ignored.</param>
    /// <param name="source">Recorded in <see cref="Source"/> and named in <paramref name="error"/>.</param>
    /// <param name="entry">The entry, or default if the text is not one.</param>
    /// <param name="error">
    /// Null on success; otherwise a sentence that quotes the text and names the part that is wrong
    /// (the missing '=', the ident, or the address).
    /// </param>
    /// <returns>True if <paramref name="text"/> is an entry.</returns>
    public static bool TryParse(string? text, string? source, out NodeEntry entry, [NotNullWhen(false)] out string? error)
    {
        entry = default;
        string where = source is null ? "" : $" (from {source})";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"An empty node{where}: expected IDENT=HOST:PORT, e.g. 0.0.0.1=127.0.0.1:6081";
            return false;
        }

        int equals = text.IndexOf('=');
        if (equals < 0)
        {
            error = $"'{text}'{where} is not a node: the '=' between ident and address is missing; expected IDENT=HOST:PORT, e.g. 0.0.0.1=127.0.0.1:6081";
            return false;
        }

        string identText = text[..equals].Trim();
        string addressText = text[(equals + 1)..].Trim();
        string[] names = [];
        int slash = addressText.IndexOf('/');
        if (slash >= 0)
        {
            // An address never holds '/': what follows it is the node's names.
            names = addressText[(slash + 1)..].Split(',', StringSplitOptions.TrimEntries);
            addressText = addressText[..slash].TrimEnd();
            foreach (string name in names)
            {
                if (!ServiceName.IsValid(name, out string? nameError))
                {
                    error = $"'{text}'{where}: a name is wrong: {nameError}";
                    return false;
                }
            }

            names = [.. names.Distinct(StringComparer.Ordinal)];
        }

        if (!Ident.TryParse(identText, out Ident ident, out string? identError))
        {
            error = $"'{text}'{where}: the ident part is wrong: {identError}";
            return false;
        }

        if (!NodeAddress.TryParse(addressText, out NodeAddress? address, out string addressError))
        {
            error = $"'{text}'{where}: the address part is wrong: {addressError}";
            return false;
        }

        entry = new NodeEntry(ident, address.Value) { Source = source, Names = names };
        error = null;
        return true;
    }

    /// <summary>Parses "IDENT=HOST:PORT[/NAME,...]" or throws <see cref="FormatException"/> naming the part that is wrong.</summary>
    /// <param name="text">The text of one <c>--node</c> flag or one configuration entry.</param>
    /// <param name="source">Recorded in <see cref="Source"/>, e.g. "--node".</param>
    /// <returns>The entry.</returns>
    public static NodeEntry Parse(string text, string? source = null)
    {
        if (!TryParse(text, source, out NodeEntry entry, out string? error))
        {
            ThrowHelper.ThrowFormatException(error);
        }

        return entry;
    }

    /// <summary>"IDENT=HOST:PORT" or "IDENT=HOST:PORT/NAME,NAME", the form <see cref="Parse"/> reads.</summary>
    /// <returns>The entry as text.</returns>
    public override string ToString() => Names.Count == 0 ? $"{Ident}={Address}" : $"{Ident}={Address}/{string.Join(',', Names)}";
}
