using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Logging;

/// <summary>
/// One log record from the host: the body of a <c>log</c> notify, decoded. The body is one UTF-8
/// JSON object (docs/host-protocol.md, "Log records"):
/// <code>
/// {"level":"Information","category":"Orders.Api","message":"…","exception":"…","eventId":7,"eventName":"…","timestamp":"2025-01-02T03:04:05.678+00:00"}
/// </code>
/// </summary>
/// <remarks>
/// <c>message</c> (a string) is required; every other field is optional and may be null. Unknown
/// fields are ignored, so hosts may add their own. <c>level</c> is a .NET LogLevel name or a common
/// short one, in any case (trace, debug, info, warn, error, critical, fatal); a missing or unknown
/// level is Information. The .NET encoder is <c>src/Kaze.Host/Logging/LogRecordBody.cs</c>.
/// </remarks>
internal sealed record HostLogRecord(
    LogLevel Level,
    string Category,
    string Message,
    string? Exception,
    int EventId,
    string? EventName,
    DateTimeOffset? Timestamp)
{
    /// <summary>Decodes a body; false with a one-line reason if it is not a log record.</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out HostLogRecord? record, out string error)
    {
        record = null;
        try
        {
            return TryRead(body, out record, out error);
        }
        catch (JsonException e)
        {
            error = "not JSON: " + e.Message;
            return false;
        }
    }

    private static bool TryRead(ReadOnlySpan<byte> body, out HostLogRecord? record, out string error)
    {
        record = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            error = "not a JSON object";
            return false;
        }

        LogLevel level = LogLevel.Information;
        string category = "";
        string? message = null;
        string? exception = null;
        int eventId = 0;
        string? eventName = null;
        DateTimeOffset? timestamp = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            bool isNull = reader.TokenType == JsonTokenType.Null;
            switch (name)
            {
                case "level":
                    if (!TryText(ref reader, name, out string? levelText, out error))
                    {
                        return false;
                    }

                    level = levelText is null ? LogLevel.Information : ParseLevel(levelText);
                    break;
                case "category":
                    if (!TryText(ref reader, name, out string? categoryText, out error))
                    {
                        return false;
                    }

                    category = categoryText ?? "";
                    break;
                case "message":
                    if (!TryText(ref reader, name, out message, out error))
                    {
                        return false;
                    }

                    break;
                case "exception":
                    if (!TryText(ref reader, name, out exception, out error))
                    {
                        return false;
                    }

                    break;
                case "eventName":
                    if (!TryText(ref reader, name, out eventName, out error))
                    {
                        return false;
                    }

                    break;
                case "eventId":
                    if (!isNull && (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out eventId)))
                    {
                        error = "\"eventId\" is not a 32-bit integer";
                        return false;
                    }

                    break;
                case "timestamp":
                    if (!isNull)
                    {
                        if (reader.TokenType != JsonTokenType.String || !reader.TryGetDateTimeOffset(out DateTimeOffset at))
                        {
                            error = "\"timestamp\" is not an ISO 8601 date and time";
                            return false;
                        }

                        timestamp = at;
                    }

                    break;
                default:
                    // Hosts may add fields of their own.
                    reader.Skip();
                    break;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            error = "more than one JSON object";
            return false;
        }

        if (message is null)
        {
            error = "no \"message\"";
            return false;
        }

        record = new HostLogRecord(level, category, message, exception, eventId, eventName, timestamp);
        error = "";
        return true;
    }

    // A string, or null (text null).
    private static bool TryText(ref Utf8JsonReader reader, string name, out string? text, out string error)
    {
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
        {
            text = null;
            error = $"\"{name}\" is not a string";
            return false;
        }

        text = reader.GetString();
        error = "";
        return true;
    }

    private static LogLevel ParseLevel(string text) => text.ToLowerInvariant() switch
    {
        "trace" or "verbose" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" or "fatal" => LogLevel.Critical,
        _ => LogLevel.Information,
    };
}
