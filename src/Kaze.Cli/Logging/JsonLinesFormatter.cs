using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace Kaze.Cli.Logging;

/// <summary>
/// One JSON object per line, in the Compact Log Event Format (CLEF) that Seq and the
/// Serilog.Formatting.Compact readers understand:
/// <code>
/// {"@t":"2025-01-02T03:04:05.6780000Z","@l":"Warning","@m":"…","@x":"…","SourceContext":"Kaze.Sidecar.Corral","EventId":{"Id":401},…}
/// </code>
/// </summary>
/// <remarks>
/// <c>@t</c> is UTC; <c>@l</c> is Serilog's level name (Verbose, Debug, Information, Warning, Error,
/// Fatal), always written; <c>@m</c> is the rendered message, strings as they are (no quotes);
/// <c>@x</c> the exception's text, when there is one. Every property follows at the top level; a
/// property whose name starts with '@' gets a second '@', as CLEF says. Hand-written because
/// Serilog.Formatting.Compact is not among the packages kaze may use.
/// </remarks>
internal sealed class JsonLinesFormatter : ITextFormatter
{
    private static readonly MessageTemplateTextFormatter MessageOnly = new("{Message:lj}", CultureInfo.InvariantCulture);

    private readonly JsonValueFormatter _values = new(typeTagName: null);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        ArgumentNullException.ThrowIfNull(output);
        output.Write("{\"@t\":\"");
        output.Write(logEvent.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        output.Write("\",\"@l\":\"");
        output.Write(logEvent.Level.ToString());
        output.Write("\",\"@m\":");
        var message = new StringWriter(CultureInfo.InvariantCulture);
        MessageOnly.Format(logEvent, message);
        JsonValueFormatter.WriteQuotedJsonString(message.ToString(), output);
        if (logEvent.Exception is not null)
        {
            output.Write(",\"@x\":");
            JsonValueFormatter.WriteQuotedJsonString(logEvent.Exception.ToString(), output);
        }

        foreach (KeyValuePair<string, LogEventPropertyValue> property in logEvent.Properties)
        {
            output.Write(',');
            JsonValueFormatter.WriteQuotedJsonString(property.Key.StartsWith('@') ? "@" + property.Key : property.Key, output);
            output.Write(':');
            _values.Format(property.Value, output);
        }

        output.Write('}');
        output.Write('\n');
    }
}
