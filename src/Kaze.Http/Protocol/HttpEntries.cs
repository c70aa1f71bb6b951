using System.Buffers.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Kaze.Http.Protocol;

/// <summary>
/// The control entries of the header map (<c>Hdr.headers</c>, field 9) that HTTP over the mesh
/// uses. Their names start with ':', which no HTTP field name can (':' is not a token character),
/// so they never clash with the HTTP fields carried beside them. Numbers are ASCII decimal.
/// </summary>
internal static class HttpEntries
{
    /// <summary>Request head: the method, e.g. "GET".</summary>
    public const string Method = ":method";

    /// <summary>Request head: the target in origin form, path and query, e.g. "/items?id=4".</summary>
    public const string Path = ":path";

    /// <summary>Request head: the HTTP version the client spoke, "1.0", "1.1" or "2"; default "1.1".</summary>
    public const string Version = ":version";

    /// <summary>Response head: the status code, three digits, 200-599.</summary>
    public const string Status = ":status";

    /// <summary>kaze.http.req: the response body bytes the called gateway may send before it is granted more.</summary>
    public const string Window = ":window";

    /// <summary>kaze.http.up / down: the exchange's id (the <c>req</c> of its kaze.http.req).</summary>
    public const string Stream = ":sid";

    /// <summary>Present (empty): the sender's body ends with this packet's bytes; the packet's HTTP fields are trailers.</summary>
    public const string End = ":end";

    /// <summary>kaze.http.up / down: the receiver of this packet may send this many more body bytes.</summary>
    public const string Credit = ":credit";

    /// <summary>kaze.http.up / down: the exchange is aborted (the value says why, UTF-8); whatever has not ended does not end.</summary>
    public const string Reset = ":reset";

    private static readonly ByteString Empty = ByteString.Empty;

    public static void PutEnd(MapField<string, ByteString> map) => map[End] = Empty;

    public static bool HasEnd(MapField<string, ByteString> map) => map.ContainsKey(End);

    public static void PutNumber(MapField<string, ByteString> map, string key, ulong value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int written);
        map[key] = ByteString.CopyFrom(digits[..written]);
    }

    /// <summary>The entry as a number: false if it is missing; <paramref name="valid"/> false if present but not decimal digits within range.</summary>
    public static bool TryGetNumber(MapField<string, ByteString> map, string key, ulong max, out ulong value, out bool valid)
    {
        value = 0;
        valid = true;
        if (!map.TryGetValue(key, out ByteString? bytes))
        {
            return false;
        }

        ReadOnlySpan<byte> span = bytes.Span;
        valid = span.Length is > 0 and <= 20
            && span.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0
            && Utf8Parser.TryParse(span, out value, out int consumed)
            && consumed == span.Length
            && value <= max;
        return true;
    }

    public static void PutText(MapField<string, ByteString> map, string key, string text) => map[key] = ByteString.CopyFromUtf8(text);
}
