using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Logging;

/// <summary>One log record as the app logged it, waiting to be sent.</summary>
internal readonly record struct LogRecord(
    LogLevel Level,
    string Category,
    string Message,
    string? Exception,
    int EventId,
    string? EventName,
    DateTimeOffset Timestamp);

/// <summary>
/// The body of a <c>log</c> notify (docs/host-protocol.md, "Log records"): one UTF-8 JSON object,
/// <c>{"level":"Information","category":"…","message":"…","exception":"…","eventId":7,"eventName":"…","timestamp":"…"}</c>.
/// </summary>
/// <remarks>
/// <c>message</c> is required; the others are optional and left out when empty (<c>eventId</c> 0,
/// no exception, no event name). <c>level</c> is a <see cref="LogLevel"/> name; <c>timestamp</c> is
/// ISO 8601 with its offset (UTC here). The sidecar's decoder is
/// <c>src/Kaze.Sidecar/Logging/HostLogRecord.cs</c>.
/// </remarks>
internal sealed class LogRecordBody
{
    public static ReadOnlySpan<byte> Level => "level"u8;

    public static ReadOnlySpan<byte> Category => "category"u8;

    public static ReadOnlySpan<byte> Message => "message"u8;

    public static ReadOnlySpan<byte> Exception => "exception"u8;

    public static ReadOnlySpan<byte> EventId => "eventId"u8;

    public static ReadOnlySpan<byte> EventName => "eventName"u8;

    public static ReadOnlySpan<byte> Timestamp => "timestamp"u8;

    // Relaxed: the body is not HTML; non-ASCII text stays as UTF-8 instead of \uXXXX escapes.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;

    public LogRecordBody() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

    /// <summary>Encodes <paramref name="record"/>; the result is valid until the next call.</summary>
    public ReadOnlyMemory<byte> Encode(in LogRecord record)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString(Level, LevelName(record.Level));
        _writer.WriteString(Category, record.Category);
        _writer.WriteString(Message, record.Message);
        if (record.Exception is not null)
        {
            _writer.WriteString(Exception, record.Exception);
        }

        if (record.EventId != 0)
        {
            _writer.WriteNumber(EventId, record.EventId);
        }

        if (!string.IsNullOrEmpty(record.EventName))
        {
            _writer.WriteString(EventName, record.EventName);
        }

        _writer.WriteString(Timestamp, record.Timestamp);
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenMemory;
    }

    /// <summary>The name of <paramref name="level"/> as the body carries it.</summary>
    public static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "Trace",
        LogLevel.Debug => "Debug",
        LogLevel.Information => "Information",
        LogLevel.Warning => "Warning",
        LogLevel.Error => "Error",
        _ => "Critical",
    };
}
