using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Kaze.Protocol;

namespace Kaze.Http.Protocol;

/// <summary>The request line and status entries of a head (docs/http.md, "Heads"), written and checked.</summary>
internal static class HeadCodec
{
    private static readonly SearchValues<char> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    /// <summary>Writes <c>:method</c>, <c>:path</c> and <c>:version</c>.</summary>
    public static void WriteRequestLine(MapField<string, ByteString> map, string method, string target, string version)
    {
        map[HttpEntries.Method] = ByteString.CopyFromUtf8(method);
        map[HttpEntries.Path] = ByteString.CopyFromUtf8(target);
        if (version != "1.1")
        {
            map[HttpEntries.Version] = ByteString.CopyFromUtf8(version);
        }
    }

    /// <summary>
    /// Reads and checks the request line: a token method, a target in origin form ('/' then
    /// visible ASCII) no longer than <see cref="HttpLimits.MaxRequestLine"/> with the method,
    /// and a version of "1.0", "1.1" or "2" (missing: "1.1").
    /// </summary>
    /// <returns>Null, or what is wrong.</returns>
    public static string? ReadRequestLine(Hdr header, out string method, out string target, out string version)
    {
        MapField<string, ByteString> map = header.Headers;
        method = target = "";
        version = "1.1";
        if (!map.TryGetValue(HttpEntries.Method, out ByteString? methodBytes) || methodBytes.Length == 0)
        {
            return "no :method";
        }

        if (!map.TryGetValue(HttpEntries.Path, out ByteString? pathBytes) || pathBytes.Length == 0)
        {
            return "no :path";
        }

        if (methodBytes.Length + pathBytes.Length > HttpLimits.MaxRequestLine)
        {
            return $"the request line is over {HttpLimits.MaxRequestLine} bytes";
        }

        ReadOnlySpan<byte> path = pathBytes.Span;
        if (path[0] != (byte)'/' || path.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7e) >= 0)
        {
            return ":path must be '/' then visible ASCII (origin form)";
        }

        method = methodBytes.ToStringUtf8();
        if (method.AsSpan().ContainsAnyExcept(TokenChars))
        {
            return ":method is not a token";
        }

        target = pathBytes.ToStringUtf8();
        if (map.TryGetValue(HttpEntries.Version, out ByteString? versionBytes))
        {
            version = versionBytes.ToStringUtf8();
            if (version is not ("1.0" or "1.1" or "2"))
            {
                return ":version must be 1.0, 1.1 or 2";
            }
        }

        return null;
    }

    public static void WriteStatus(MapField<string, ByteString> map, int status) => HttpEntries.PutNumber(map, HttpEntries.Status, (ulong)status);

    /// <summary>Reads <c>:status</c>: three digits from 200 to 599 (1xx responses are not carried).</summary>
    public static string? ReadStatus(Hdr header, out int status)
    {
        status = 0;
        if (!HttpEntries.TryGetNumber(header.Headers, HttpEntries.Status, 999, out ulong value, out bool valid))
        {
            return "no :status";
        }

        if (!valid || value is < 200 or > 599)
        {
            return ":status must be 200 to 599";
        }

        status = (int)value;
        return null;
    }

    /// <summary>The protocol string ASP.NET uses for a <c>:version</c>.</summary>
    public static string Protocol(string version) => version switch
    {
        "2" => "HTTP/2",
        "1.0" => "HTTP/1.0",
        _ => "HTTP/1.1",
    };

    /// <summary>The <c>:version</c> of an ASP.NET protocol string.</summary>
    public static string Version(string protocol) => protocol switch
    {
        "HTTP/2" => "2",
        "HTTP/1.0" => "1.0",
        _ => "1.1",
    };
}
