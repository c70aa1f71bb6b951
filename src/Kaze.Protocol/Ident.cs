using System.Diagnostics.CodeAnalysis;

namespace Kaze.Protocol;

/// <summary>
/// A node's identity: a uint32 written as a dotted quad, most significant byte first
/// ("0.0.0.1" is 1, "1.2.3.4" is 0x01020304).
/// </summary>
/// <remarks>
/// An ident is not an IP address: it only looks like one. <see cref="Any"/> (0.0.0.0) as a
/// destination means "the host of the sidecar that reads this packet". Selectors in
/// <see cref="Hdr.DstRandom"/> and <see cref="Hdr.DstBroadcast"/> match a node with
/// <see cref="Matches(Ident, uint)"/>.
/// </remarks>
/// <param name="Value">The ident as a number, as it travels in the header.</param>
public readonly record struct Ident(uint Value) : ISpanFormattable, ISpanParsable<Ident>
{
    /// <summary>The longest text an ident formats to: "255.255.255.255".</summary>
    public const int MaxLength = 15;

    // Longer input is cut in error messages: it is echoed to logs.
    private const int MaxEchoedLength = 64;

    /// <summary>0.0.0.0: as a destination, the host of the sidecar that reads the packet.</summary>
    public static Ident Any => default;

    /// <summary>
    /// Whether this node is selected by <paramref name="ident"/> under <paramref name="mask"/>:
    /// <c>(Value &amp; mask) == ident.Value</c>, as in <see cref="Hdr.Types.DstMask"/>.
    /// </summary>
    /// <param name="ident">The selector's ident.</param>
    /// <param name="mask">The bits of this node's ident that must equal the selector's.</param>
    /// <returns>True if the masked bits are equal.</returns>
    public bool Matches(Ident ident, uint mask) => (Value & mask) == ident.Value;

    /// <summary>Parses a dotted quad such as "0.0.0.1".</summary>
    /// <param name="text">Four decimal numbers 0-255 separated by dots; no spaces or signs.</param>
    /// <returns>The ident.</returns>
    /// <exception cref="FormatException">The text is not an ident; the message says what is expected.</exception>
    public static Ident Parse(ReadOnlySpan<char> text)
    {
        if (!TryParseCore(text, out var ident))
        {
            ThrowHelper.ThrowFormatException(FormatError(text));
        }

        return ident;
    }

    /// <summary>Parses a dotted quad such as "0.0.0.1".</summary>
    /// <param name="text">Four decimal numbers 0-255 separated by dots; no spaces or signs.</param>
    /// <param name="ident">The ident, or <see cref="Any"/> if the text is not one.</param>
    /// <returns>True if <paramref name="text"/> is an ident.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ident ident) => TryParseCore(text, out ident);

    /// <summary>Parses a dotted quad, and says what is wrong if it is not one.</summary>
    /// <param name="text">Four decimal numbers 0-255 separated by dots; no spaces or signs.</param>
    /// <param name="ident">The ident, or <see cref="Any"/> if the text is not one.</param>
    /// <param name="error">
    /// Null on success; otherwise a message for a person, e.g. "'1.2.3' is not an ident: expected four
    /// numbers 0-255 separated by dots, e.g. 0.0.0.1".
    /// </param>
    /// <returns>True if <paramref name="text"/> is an ident.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ident ident, [NotNullWhen(false)] out string? error)
    {
        if (TryParseCore(text, out ident))
        {
            error = null;
            return true;
        }

        error = FormatError(text);
        return false;
    }

    /// <summary>Formats the ident as a dotted quad, e.g. "1.2.3.4".</summary>
    /// <returns>The dotted quad.</returns>
    public override string ToString()
    {
        Span<char> buffer = stackalloc char[MaxLength];
        TryFormat(buffer, out int written);
        return new string(buffer[..written]);
    }

    /// <summary>Formats the ident as a dotted quad into <paramref name="destination"/>.</summary>
    /// <param name="destination">Where to write; <see cref="MaxLength"/> characters always suffice.</param>
    /// <param name="charsWritten">How many characters were written; 0 if the destination was too small.</param>
    /// <returns>True if the whole text fit.</returns>
    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        int pos = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            if (shift != 24)
            {
                if (pos >= destination.Length)
                {
                    charsWritten = 0;
                    return false;
                }

                destination[pos++] = '.';
            }

            byte part = (byte)(Value >> shift);
            if (!part.TryFormat(destination[pos..], out int partLength))
            {
                charsWritten = 0;
                return false;
            }

            pos += partLength;
        }

        charsWritten = pos;
        return true;
    }

    private static bool TryParseCore(ReadOnlySpan<char> text, out Ident ident)
    {
        uint value = 0;
        int pos = 0;
        for (int part = 0; part < 4; part++)
        {
            if (part != 0)
            {
                if (pos >= text.Length || text[pos] != '.')
                {
                    ident = default;
                    return false;
                }

                pos++;
            }

            int start = pos;
            uint number = 0;
            // At most three digits: rejects "0256" and keeps the arithmetic far from overflow.
            while (pos < text.Length && pos - start < 3 && char.IsAsciiDigit(text[pos]))
            {
                number = (number * 10) + (uint)(text[pos] - '0');
                pos++;
            }

            if (pos == start || number > 255)
            {
                ident = default;
                return false;
            }

            value = (value << 8) | number;
        }

        if (pos != text.Length)
        {
            ident = default;
            return false;
        }

        ident = new Ident(value);
        return true;
    }

    private static string FormatError(ReadOnlySpan<char> text)
    {
        string echoed = text.Length <= MaxEchoedLength
            ? new string(text)
            : string.Concat(text[..MaxEchoedLength], "...");
        return $"'{echoed}' is not an ident: expected four numbers 0-255 separated by dots, e.g. 0.0.0.1";
    }

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(destination, out charsWritten);

    static Ident IParsable<Ident>.Parse(string s, IFormatProvider? provider)
    {
        ArgumentNullException.ThrowIfNull(s);
        return Parse(s);
    }

    static bool IParsable<Ident>.TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Ident result) =>
        TryParseCore(s, out result);

    static Ident ISpanParsable<Ident>.Parse(ReadOnlySpan<char> s, IFormatProvider? provider) => Parse(s);

    static bool ISpanParsable<Ident>.TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Ident result) =>
        TryParseCore(s, out result);
}
