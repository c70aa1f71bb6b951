using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kaze.Protocol;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// The value of a node's key in etcd: one UTF-8 JSON object (docs/discovery.md, "Key layout").
/// </summary>
/// <remarks>
/// <code>
/// {"address":"10.0.0.1:6081","names":["orders"],"pid":4711,"host":"node-a","registered":"2025-01-02T03:04:05Z"}
/// </code>
/// <c>address</c> is required; the rest is optional. Unknown members are ignored, so later versions
/// may add some. A plain "HOST:PORT" (what Kaze wrote before names existed) is read as a node
/// without names. Everything here comes from whoever can write under the prefix: sizes are bounded
/// and every field is checked before use.
/// </remarks>
internal static class EtcdNodeValue
{
    /// <summary>A value longer than this is not read (a node's entry is under 200 bytes).</summary>
    public const int MaxBytes = 4096;

    /// <summary>At most this many names per node are read; a value with more is refused.</summary>
    public const int MaxNames = 32;

    // Longer host names are refused: a value written by hand should not reach the log unbounded.
    private const int MaxHostLength = 255;

    /// <summary>What a node's value says, besides its ident (which is in the key).</summary>
    public sealed record Parsed(NodeAddress Address, string[] Names, int? Pid, string? Host, DateTimeOffset? RegisteredAt);

    /// <summary>The value written for this node.</summary>
    public static byte[] Format(NodeAddress address, IReadOnlyList<string> names, int pid, string host, DateTimeOffset registeredAt)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("address", address.ToString());
            json.WriteStartArray("names");
            foreach (string name in names)
            {
                json.WriteStringValue(name);
            }

            json.WriteEndArray();
            json.WriteNumber("pid", pid);
            json.WriteString("host", host.Length <= MaxHostLength ? host : host[..MaxHostLength]);
            json.WriteString("registered", registeredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a value; <paramref name="error"/> says why it is not a node's, for the log.</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, [NotNullWhen(true)] out Parsed? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        if (value.Length > MaxBytes)
        {
            error = $"the value is {value.Length} bytes, more than the {MaxBytes} a node's entry may have";
            return false;
        }

        if (value.IsEmpty || value[0] != (byte)'{')
        {
            // Kaze before names: the address alone.
            string text = Encoding.UTF8.GetString(value);
            if (NodeAddress.TryParse(text, out NodeAddress? plain, out string addressError))
            {
                parsed = new Parsed(plain.Value, [], null, null, null);
                error = null;
                return true;
            }

            error = $"the value is neither a JSON object nor HOST:PORT ({addressError})";
            return false;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(value.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            return TryRead(document.RootElement, out parsed, out error);
        }
        catch (JsonException e)
        {
            error = $"the value is not valid JSON: {e.Message}";
            return false;
        }
    }

    private static bool TryRead(JsonElement root, [NotNullWhen(true)] out Parsed? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "the value is not a JSON object";
            return false;
        }

        if (!root.TryGetProperty("address", out JsonElement addressElement) || addressElement.ValueKind != JsonValueKind.String)
        {
            error = "the value has no \"address\" string";
            return false;
        }

        if (!NodeAddress.TryParse(addressElement.GetString(), out NodeAddress? address, out string addressError))
        {
            error = $"\"address\": {addressError}";
            return false;
        }

        var names = new List<string>();
        if (root.TryGetProperty("names", out JsonElement namesElement) && namesElement.ValueKind != JsonValueKind.Null)
        {
            if (namesElement.ValueKind != JsonValueKind.Array)
            {
                error = "\"names\" is not an array";
                return false;
            }

            if (namesElement.GetArrayLength() > MaxNames)
            {
                error = $"\"names\" has {namesElement.GetArrayLength()} names, more than {MaxNames}";
                return false;
            }

            foreach (JsonElement name in namesElement.EnumerateArray())
            {
                string? text = name.ValueKind == JsonValueKind.String ? name.GetString() : null;
                if (!ServiceName.IsValid(text, out string? nameError))
                {
                    error = $"\"names\": {(text is null ? "an entry is not a string" : nameError)}";
                    return false;
                }

                if (!names.Contains(text))
                {
                    names.Add(text);
                }
            }
        }

        int? pid = root.TryGetProperty("pid", out JsonElement pidElement) && pidElement.ValueKind == JsonValueKind.Number && pidElement.TryGetInt32(out int p) && p > 0 ? p : null;
        string? host = root.TryGetProperty("host", out JsonElement hostElement) && hostElement.ValueKind == JsonValueKind.String ? hostElement.GetString() : null;
        if (host is { Length: > MaxHostLength } || (host is not null && host.Any(char.IsControl)))
        {
            host = null;
        }

        DateTimeOffset? registered = root.TryGetProperty("registered", out JsonElement registeredElement)
            && registeredElement.ValueKind == JsonValueKind.String
            && registeredElement.TryGetDateTimeOffset(out DateTimeOffset at) ? at : null;
        parsed = new Parsed(address.Value, [.. names], pid, host, registered);
        error = null;
        return true;
    }
}
