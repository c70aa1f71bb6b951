using System.Diagnostics.CodeAnalysis;

namespace Kaze.Protocol;

/// <summary>
/// A service name: what a node is registered under besides its ident (<c>--name orders</c>), and
/// what a packet routed by name (<c>dstName</c>, <c>dstNameBroadcast</c>) names.
/// </summary>
/// <remarks>
/// 1 to <see cref="MaxLength"/> characters from <c>a-z</c>, <c>0-9</c>, <c>.</c> and <c>-</c>
/// (lower case: names compare byte for byte), and not a dotted ident ("1.2.3.4" is an ident,
/// so <c>kaze send --to</c> and the HTTP gateway can tell the two apart).
/// </remarks>
public static class ServiceName
{
    /// <summary>The longest name, in characters (a DNS label's limit).</summary>
    public const int MaxLength = 63;

    // Longer names are cut in error messages.
    private const int MaxEchoedLength = 80;

    /// <summary>True if <paramref name="name"/> is a valid service name.</summary>
    /// <param name="name">The name to check.</param>
    /// <returns>True if valid.</returns>
    public static bool IsValid([NotNullWhen(true)] string? name) => IsValid(name, out _);

    /// <summary>Checks <paramref name="name"/>; <paramref name="error"/> says what is wrong, quoting it.</summary>
    /// <param name="name">The name to check.</param>
    /// <param name="error">Null if valid; otherwise one sentence naming the problem.</param>
    /// <returns>True if valid.</returns>
    public static bool IsValid([NotNullWhen(true)] string? name, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrEmpty(name))
        {
            error = "a service name cannot be empty: use 1-63 characters from a-z, 0-9, '.' and '-', e.g. orders";
            return false;
        }

        if (name.Length > MaxLength)
        {
            error = $"'{Echo(name)}' is {name.Length} characters long: a service name has at most {MaxLength}";
            return false;
        }

        foreach (char c in name)
        {
            if (!IsNameChar(c))
            {
                error = $"'{Echo(name)}' has the character '{Printable(c)}': a service name uses only a-z, 0-9, '.' and '-' (lower case)";
                return false;
            }
        }

        if (Ident.TryParse(name, out _))
        {
            error = $"'{name}' is a dotted ident, not a service name: a name needs something other than four numbers and dots";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>True for the characters a name may hold.</summary>
    /// <param name="c">The character.</param>
    /// <returns>True for a-z, 0-9, '.' and '-'.</returns>
    public static bool IsNameChar(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-';

    private static string Echo(string name) => name.Length <= MaxEchoedLength ? name : name[..MaxEchoedLength] + "...";

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"\\u{(int)c:x4}" : c.ToString();
}
