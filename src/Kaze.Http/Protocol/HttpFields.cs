using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kaze.Http.Protocol;

/// <summary>
/// HTTP fields in the header map: one entry per field name, lower case; the name's values (its
/// field lines, in order) joined by '\n', which no field value may contain. Values are octets,
/// read and written one character per octet (ISO-8859-1), as HTTP/1.1 carries them; a value with
/// characters above U+00FF is written as UTF-8. Hop-by-hop fields never cross the mesh.
/// </summary>
internal static class HttpFields
{
    private const byte Separator = (byte)'\n';

    // RFC 9110 token characters, for field names.
    private static readonly SearchValues<char> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    /// <summary>
    /// Connection-specific fields (RFC 9110 7.6.1), and Host (the called gateway's client sets its
    /// own): dropped when writing and when reading, whatever the other side sent.
    /// </summary>
    public static bool IsHopByHop(string lowerName) => lowerName switch
    {
        "connection" or "keep-alive" or "proxy-connection" or "transfer-encoding" or "upgrade" or "host"
            or "proxy-authenticate" or "proxy-authorization" or "http2-settings" => true,
        _ => false,
    };

    public static bool IsValidName(string name) => name.Length > 0 && !name.AsSpan().ContainsAnyExcept(TokenChars);

    /// <summary>Writes every field of <paramref name="fields"/> (Kestrel's or a synthetic context's). Returns the bytes written (names and values).</summary>
    public static int Write(MapField<string, ByteString> map, IHeaderDictionary fields)
    {
        int bytes = 0;
        foreach (KeyValuePair<string, StringValues> field in fields)
        {
            bytes += Write(map, field.Key, field.Value);
        }

        return bytes;
    }

    /// <summary>Writes the fields of an <see cref="HttpHeaders"/> (a request or response message, its content).</summary>
    public static int Write(MapField<string, ByteString> map, HttpHeaders fields)
    {
        int bytes = 0;
        foreach (KeyValuePair<string, HeaderStringValues> field in fields.NonValidated)
        {
            string name = Lower(field.Key);
            if (IsHopByHop(name) || (name == "te" && !IsTrailers(field.Value)))
            {
                continue;
            }

            bytes += Put(map, name, field.Value);
        }

        return bytes;
    }

    private static int Write(MapField<string, ByteString> map, string key, StringValues values)
    {
        string name = Lower(key);
        if (IsHopByHop(name) || name[0] == ':' || (name == "te" && !string.Equals(values.ToString(), "trailers", StringComparison.OrdinalIgnoreCase)))
        {
            return 0;
        }

        int length = name.Length;
        int total = values.Count == 0 ? 0 : values.Count - 1;
        bool wide = false;
        foreach (string? value in values)
        {
            total += value?.Length ?? 0;
            wide |= value is not null && value.AsSpan().ContainsAnyExceptInRange('\0', '\u00ff');
        }

        if (wide)
        {
            map[name] = ByteString.CopyFromUtf8(string.Join('\n', values.ToArray()));
            return length + total;
        }

        byte[] buffer = new byte[total];
        int at = 0;
        for (int i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                buffer[at++] = Separator;
            }

            at += Encoding.Latin1.GetBytes(values[i] ?? "", buffer.AsSpan(at));
        }

        map[name] = UnsafeByteOperations.UnsafeWrap(buffer);
        return length + total;
    }

    private static int Put(MapField<string, ByteString> map, string name, HeaderStringValues values)
    {
        string text = values.Count == 1 ? values.ToString() : string.Join('\n', values);
        map[name] = text.AsSpan().ContainsAnyExceptInRange('\0', '\u00ff')
            ? ByteString.CopyFromUtf8(text)
            : UnsafeByteOperations.UnsafeWrap(Encoding.Latin1.GetBytes(text));
        return name.Length + text.Length;
    }

    private static bool IsTrailers(HeaderStringValues values)
    {
        foreach (string value in values)
        {
            if (string.Equals(value.Trim(), "trailers", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reads the HTTP fields of <paramref name="map"/> (every entry whose name does not start with
    /// ':'), checking each: a token name, values without CR, NUL or other control characters but
    /// tab, at most <see cref="HttpLimits.MaxFieldLines"/> lines and
    /// <see cref="HttpLimits.MaxFieldBytes"/> bytes in all. Hop-by-hop fields are skipped.
    /// </summary>
    /// <returns>Null when every field was handed to <paramref name="add"/>; else what was wrong (nothing more is added).</returns>
    public static string? Read(MapField<string, ByteString> map, Action<string, string[]> add)
    {
        int lines = 0;
        int bytes = 0;
        foreach (KeyValuePair<string, ByteString> entry in map)
        {
            string name = entry.Key;
            if (name.Length > 0 && name[0] == ':')
            {
                continue;
            }

            if (!IsValidName(name))
            {
                return $"'{Printable(name)}' is not a field name";
            }

            ReadOnlySpan<byte> value = entry.Value.Span;
            bytes += name.Length + value.Length;
            if (bytes > HttpLimits.MaxFieldBytes)
            {
                return $"the fields are over {HttpLimits.MaxFieldBytes} bytes";
            }

            if (value.IndexOfAnyInRange((byte)0, (byte)8) >= 0 || value.IndexOfAnyInRange((byte)11, (byte)31) >= 0 || value.IndexOf((byte)127) >= 0)
            {
                return $"field '{name}' has a control character in its value";
            }

            string lower = Lower(name);
            if (IsHopByHop(lower))
            {
                continue;
            }

            int count = value.Count(Separator) + 1;
            lines += count;
            if (lines > HttpLimits.MaxFieldLines)
            {
                return $"more than {HttpLimits.MaxFieldLines} field lines";
            }

            string[] values = new string[count];
            int at = 0;
            for (int i = 0; i < count; i++)
            {
                int end = value.IndexOf(Separator);
                ReadOnlySpan<byte> one = end < 0 ? value : value[..end];
                values[at++] = Encoding.Latin1.GetString(one.Trim((byte)' ').Trim((byte)'\t'));
                value = end < 0 ? [] : value[(end + 1)..];
            }

            add(lower, values);
        }

        return null;
    }

    /// <summary>A name for a message: printable ASCII, at most 40 characters.</summary>
    public static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, 40));
        foreach (char c in text)
        {
            if (builder.Length == 40)
            {
                builder.Append('…');
                break;
            }

            builder.Append(c is >= ' ' and < '\u007f' ? c : '?');
        }

        return builder.ToString();
    }

    private static string Lower(string name)
    {
        foreach (char c in name)
        {
            if (c is >= 'A' and <= 'Z')
            {
                return name.ToLowerInvariant();
            }
        }

        return name;
    }
}
